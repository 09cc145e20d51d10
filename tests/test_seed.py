from __future__ import annotations

from photolab_widgets.demo import seed_demo
from photolab_widgets.images import browser_src


def test_seed_demo_is_realistic_and_runs_once(sqlite_studio):
    report = seed_demo(sqlite_studio)
    assert report.scenes >= 40 and report.users >= 3 and report.tasks > 0
    assert len(sqlite_studio.collections()) >= 3
    assert seed_demo(sqlite_studio).skipped

    scenes, total = sqlite_studio.scenes(limit=1000)
    assert total == report.scenes
    assert any(s.scene.pose_img_key is None for s in scenes)
    assert any(s.scene.rate is None for s in scenes)
    assert any(s.scene.params is None for s in scenes)
    assert any("🐾" in (s.scene.collection_name or "") for s in scenes)
    for item in scenes:
        url = sqlite_studio.image_url(item.scene.base_img_key)
        assert browser_src(url, 64) is not None, url
    done = sqlite_studio.tasks(status="done")
    assert done.total > 0
    assert all(
        browser_src(sqlite_studio.image_url(t.result_img_key)) for t in done.rows
    )
