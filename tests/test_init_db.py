"""init-db never touches an existing scenes table, and can run twice."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, select, text

from photolab_widgets import Studio
from photolab_widgets.config import Settings
from photolab_widgets.models import Scene, User

# The studio's own DDL, written by hand as DESIGN.md describes the table.
SCENES_DDL = """
CREATE TABLE scenes (
  scene_id int NOT NULL AUTO_INCREMENT,
  img_url varchar(2000) DEFAULT NULL,
  prompt text,
  action_type varchar(255) NOT NULL COMMENT 'type包括mj,reface,sd等。如果是mj，直接调用prompt生成图片；如果是reface，直接与上传的头像图片进行换脸',
  img_type varchar(255) NOT NULL COMMENT '图片类型，包括男生、女生、多人、猫、狗',
  rate float DEFAULT NULL COMMENT '推荐评分，从0-10分，可以有小数点',
  name varchar(255) DEFAULT NULL,
  base_img_key varchar(2550) DEFAULT NULL,
  hint_img_list json DEFAULT NULL,
  setup_status varchar(255) DEFAULT NULL,
  roi_list json DEFAULT NULL,
  model_name varchar(2550) DEFAULT NULL,
  negative_prompt text,
  params json DEFAULT NULL,
  collection_name varchar(255) DEFAULT NULL,
  tags varchar(255) DEFAULT NULL,
  PRIMARY KEY (scene_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
"""

ROWS = [
    "INSERT INTO scenes (action_type, img_type, prompt, params, hint_img_list, rate,"
    " collection_name) VALUES ('mj', '女生', '夏日 🌅', '{\"a\": [1, {\"b\": null}]}',"
    " '[\"pose/1.png\"]', 7.5, 'summer')",
    "INSERT INTO scenes (action_type, img_type) VALUES ('reface', '猫')",
    "INSERT INTO scenes (action_type, img_type, params) VALUES ('sd', '狗', '[1, 2]')",
]


@pytest.mark.mariadb
def test_init_db_leaves_existing_scenes_untouched(mysql_url, home):
    raw = create_engine(mysql_url)
    with raw.begin() as conn:
        conn.execute(text(SCENES_DDL))
        for row in ROWS:
            conn.execute(text(row))
    with raw.connect() as conn:
        ddl_before = conn.execute(text("SHOW CREATE TABLE scenes")).one()[1]
        rows_before = conn.execute(text("SELECT * FROM scenes ORDER BY scene_id")).all()

    studio = Studio(Settings.from_env(home=home, database_url=mysql_url))
    assert set(studio.init_db()) == {"users", "tasks", "batches"}
    assert studio.init_db() == []  # twice is fine

    with raw.connect() as conn:
        assert conn.execute(text("SHOW CREATE TABLE scenes")).one()[1] == ddl_before
        assert (
            conn.execute(text("SELECT * FROM scenes ORDER BY scene_id")).all()
            == rows_before
        )
    assert {"users", "tasks", "scenes"} <= set(inspect(raw).get_table_names())

    with studio.session() as s:
        scenes = s.scalars(select(Scene).order_by(Scene.scene_id)).all()
    assert [sc.params for sc in scenes] == [{"a": [1, {"b": None}]}, None, [1, 2]]
    assert scenes[0].prompt == "夏日 🌅" and scenes[0].pose_img_key == "pose/1.png"
    assert scenes[1].img_type == "猫" and scenes[1].rate is None
    assert studio.collections() == ["summer"]
    studio.close()
    raw.dispose()


@pytest.mark.mariadb
def test_model_matches_the_documented_columns(mysql_url, home):
    studio = Studio(Settings.from_env(home=home, database_url=mysql_url))
    studio.init_db()
    cols = {c["name"]: c for c in inspect(studio.engine).get_columns("scenes")}
    assert list(cols) == [
        "scene_id",
        "img_url",
        "prompt",
        "action_type",
        "img_type",
        "rate",
        "name",
        "base_img_key",
        "hint_img_list",
        "setup_status",
        "roi_list",
        "model_name",
        "negative_prompt",
        "params",
        "collection_name",
        "tags",
    ]
    not_null = {n for n, c in cols.items() if not c["nullable"]}
    assert not_null == {"scene_id", "action_type", "img_type"}
    assert cols["rate"]["comment"] == "推荐评分，从0-10分，可以有小数点"
    assert cols["img_type"]["comment"] == "图片类型，包括男生、女生、多人、猫、狗"
    assert cols["action_type"]["comment"].startswith("type包括mj,reface,sd等")
    studio.close()


def test_init_db_twice_on_sqlite(sqlite_studio):
    assert sqlite_studio.init_db() == []


@pytest.mark.mariadb
@pytest.mark.parametrize("collation", ["utf8mb4_general_ci", "utf8mb4_bin"])
def test_a_scenes_table_of_another_collation_reads_as_usual(mysql_url, home, collation):
    # The studio's table keeps its own collation (MariaDB's utf8mb4 default
    # is utf8mb4_general_ci); the toolkit's tables have theirs.
    raw = create_engine(mysql_url)
    with raw.begin() as conn:
        conn.execute(text(SCENES_DDL.replace("utf8mb4_unicode_ci", collation)))
        for row in ROWS:
            conn.execute(text(row))
    studio = Studio(Settings.from_env(home=home, database_url=mysql_url))
    studio.init_db()
    with studio.session() as s:
        s.add(User(name="王芳 🌸"))

    options = studio.task_filter_options()
    assert list(options.collections) == ["summer"]
    assert [p.name for p in options.persons] == ["王芳 🌸"]
    assert studio.count_scenes("summer") == 1
    studio.close()
    raw.dispose()


@pytest.mark.mariadb
@pytest.mark.parametrize(
    ("charset", "name"), [("gbk", "夏日写真"), ("latin1", "café d'été")]
)
def test_a_scenes_table_in_another_charset_matches_its_names(
    mysql_url, home, charset, name
):
    # Not every studio table is utf8mb4: a Chinese one may well be gbk.
    raw = create_engine(mysql_url)
    ddl = SCENES_DDL.replace("utf8mb4_unicode_ci", f"{charset}_bin").replace(
        "CHARSET=utf8mb4", f"CHARSET={charset}"
    )
    with raw.begin() as conn:
        conn.execute(text(ddl))
        for collection in {name, name.upper(), f"{name} "}:  # gbk has no case
            conn.execute(
                text(
                    "INSERT INTO scenes (action_type, img_type, collection_name) "
                    "VALUES ('sd', 'cat', :c)"
                ),
                {"c": collection},
            )
    studio = Studio(Settings.from_env(home=home, database_url=mysql_url))
    studio.init_db()
    with studio.session() as s:
        person = User(name="Ada")
        s.add(person)
        s.flush()
        person_id = person.id

    names = sorted({name, name.upper(), f"{name} "})
    assert studio.collections() == names
    assert list(studio.task_filter_options().collections) == names
    assert studio.count_scenes(name) == 1
    assert studio.generate(name, person_id).count == 1
    studio.close()
    raw.dispose()
