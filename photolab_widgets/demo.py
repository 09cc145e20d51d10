"""The demo data set and its pictures, drawn with Pillow.

``seed_demo`` fills an empty database with four collections of scenes, a few
people and some finished, failed and pending tasks, and writes every picture
into the local image folder (``PHOTOLAB_HOME/images``), so that the demo shows
its images without internet. The drawing functions are shared with the demo
worker, which composes result images the same way.
"""

from __future__ import annotations

import colorsys
import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import func, select

from .images import key_path
from .models import Scene, Task, TaskStatus, User, utcnow
from .studio import Studio

log = logging.getLogger(__name__)

BASE_SIZE = (384, 512)

COLLECTIONS = {
    "summer-portraits 夏日写真": ("woman", "sd"),
    "office-headshots": ("man", "reface"),
    "cats & dogs 🐾": ("cat", "mj"),
    "family-studio": ("group", "sd"),
}

PROMPTS = [
    "a sunlit portrait on the beach, film grain, golden hour 🌅",
    "海边的夏日写真，柔和的逆光，胶片质感 🎞️",
    "studio headshot, grey backdrop, soft key light, 85mm",
    "职业证件照，浅灰背景，自然微笑",
    "a ginger cat wearing a tiny crown, baroque oil painting 👑🐱",
    "一只柯基在樱花树下奔跑 🌸🐶",
    "family picnic in autumn leaves, warm tones, candid",
    "全家福，中式庭院，红灯笼，喜庆 🏮",
    "cyberpunk street at night, neon rain, portrait",
    "black and white portrait, high contrast, Rembrandt lighting",
]

PEOPLE = ["李伟 Li Wei", "Anna Schmidt", "王芳 🌸", "Carlos Díaz", "Priya N."]


@dataclass(frozen=True)
class SeedReport:
    scenes: int
    users: int
    tasks: int
    images: int
    skipped: bool = False


#: Fonts with Chinese glyphs, where Debian's fonts-noto-cjk puts them.
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
)


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """A CJK font when the machine has one, else Pillow's own (Latin only)."""
    for path in CJK_FONTS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow built without FreeType
        return ImageFont.load_default()


def _drawable(text: str, fallback: str) -> str:
    """The part of ``text`` the font can draw: never emoji; Chinese with CJK."""
    wide = isinstance(_font(18), ImageFont.FreeTypeFont) and any(
        Path(p).exists() for p in CJK_FONTS
    )
    kept = "".join(
        ch
        for ch in text
        if ch.isascii() or (ch.isalpha() and ord(ch) < (0x10000 if wide else 0x100))
    )
    return " ".join(kept.split()) or fallback


def _palette(seed: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    hue = (seed * 0.137) % 1.0
    top = colorsys.hsv_to_rgb(hue, 0.45, 0.95)
    bottom = colorsys.hsv_to_rgb((hue + 0.12) % 1.0, 0.7, 0.55)
    return (
        tuple(int(c * 255) for c in top),  # type: ignore[return-value]
        tuple(int(c * 255) for c in bottom),
    )


def draw_base(seed: int, label: str) -> Image.Image:
    """A base photo stand-in: a gradient sky, hills, a sun and a caption."""
    w, h = BASE_SIZE
    top, bottom = _palette(seed)
    img = Image.new("RGB", (w, h))
    draw = ImageDraw.Draw(img)
    for y in range(h):
        t = y / (h - 1)
        draw.line(
            [(0, y), (w, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    rng = random.Random(seed)
    sun = (rng.randint(60, w - 60), rng.randint(60, 200))
    draw.ellipse([sun[0] - 40, sun[1] - 40, sun[0] + 40, sun[1] + 40], fill="#fff6d5")
    for i in range(3):
        base_y = h - 120 + i * 40
        pts = (
            [(0, h)]
            + [(x, base_y - rng.randint(0, 70)) for x in range(0, w + 64, 64)]
            + [(w, h)]
        )
        shade = 40 + i * 30
        draw.polygon(pts, fill=(shade, shade + 30, shade + 10))
    draw.rectangle([0, h - 44, w, h], fill=(0, 0, 0))
    draw.text((12, h - 36), label, fill="white", font=_font(22))
    return img


def draw_pose(seed: int) -> Image.Image:
    """A pose hint: a stick figure in an OpenPose-like style on black."""
    w, h = BASE_SIZE
    img = Image.new("RGB", (w, h), "black")
    draw = ImageDraw.Draw(img)
    rng = random.Random(seed * 7 + 1)
    cx, head_y = w // 2 + rng.randint(-40, 40), 110
    neck = (cx, head_y + 50)
    hip = (cx + rng.randint(-15, 15), 300)
    arm = rng.randint(-60, 60)
    limbs = [
        (neck, hip, "#ff5555"),
        (neck, (cx - 80, 200 + arm), "#ffaa00"),
        ((cx - 80, 200 + arm), (cx - 110, 280 - arm), "#ffee00"),
        (neck, (cx + 80, 200 - arm), "#55ff55"),
        ((cx + 80, 200 - arm), (cx + 120, 270 + arm), "#00ffaa"),
        (hip, (cx - 50, 410), "#55aaff"),
        ((cx - 50, 410), (cx - 60, 490), "#5555ff"),
        (hip, (cx + 50, 410), "#aa55ff"),
        ((cx + 50, 410), (cx + 70, 490), "#ff55ff"),
    ]
    for a, b, colour in limbs:
        draw.line([a, b], fill=colour, width=9)
        draw.ellipse([b[0] - 7, b[1] - 7, b[0] + 7, b[1] + 7], fill="white")
    draw.ellipse(
        [cx - 34, head_y - 34, cx + 34, head_y + 34], outline="#ff8888", width=8
    )
    return img


def draw_result(base: Image.Image, prompt: str, person: str) -> Image.Image:
    """A render stand-in: the base picture, tinted, with prompt and person."""
    img = base.convert("RGB").resize(BASE_SIZE)
    tint = Image.new("RGB", img.size, (30, 10, 60))
    img = Image.blend(img, tint, 0.25)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, img.width, 70], fill=(20, 20, 20))
    shown_prompt = _drawable(prompt, "(prompt)")
    draw.text((10, 8), shown_prompt[:30], fill="white", font=_font(18))
    shown_person = _drawable(person, "person")
    draw.text((10, 38), f"for {shown_person[:28]}", fill="#ffd76a", font=_font(18))
    draw.rectangle([8, 8, img.width - 8, img.height - 8], outline="#ffd76a", width=4)
    return img


def save_image(img: Image.Image, folder: Path, key: str) -> Path:
    path = key_path(key, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        img.convert("RGB").save(path, "JPEG", quality=85)
    else:
        img.save(path)
    return path


def _params(rng: random.Random, i: int) -> object:
    return {
        "sampler": rng.choice(["euler_a", "dpm++ 2m karras", "ddim"]),
        "steps": rng.choice([20, 25, 30, 40]),
        "cfg_scale": rng.choice([5, 6.5, 7.0, 7.5]),
        "seed": 2**60 + i,
        "size": {"width": 768, "height": 1024},
        "hires_fix": rng.random() < 0.5,
        "loras": [
            {"name": "film-grain", "weight": 0.6},
            {"name": "柔光 soft-light", "weight": 0.35},
        ],
        "style": rng.choice(["胶片 🎞️", "studio", "oil painting", None]),
        "controlnet": {"openpose": {"enabled": True, "weight": 1.0}, "depth": {}},
        "tags": [],
    }


class NoImageFolder(RuntimeError):
    """The image base URL is not a local folder, so the demo cannot draw there."""


def seed_demo(studio: Studio, *, scenes_per_collection: int = 12) -> SeedReport:
    """Fill an empty database with the demo data set; a no-op when scenes exist.

    Refuses, before it creates any table, when the pictures have no local
    folder to go to (after a first connection, so that a wrong URL or
    password is what a person hears about first).
    """
    with studio.engine.connect():
        pass
    folder = studio.settings.images_dir
    if folder is None:
        raise NoImageFolder(
            "seed-demo draws its pictures into a local folder, but the image base "
            f"URL is {studio.settings.image_base_url!r}. Set PHOTOLAB_IMAGE_BASE_URL "
            "to a file:// folder (or leave it and PHOTOLAB_DATABASE_URL unset)."
        )
    studio.init_db()
    with studio.session() as s:
        if s.scalar(select(func.count()).select_from(Scene)):
            return SeedReport(0, 0, 0, 0, skipped=True)

    rng = random.Random(20261203)
    images = 0
    with studio.session() as s:
        users = [User(name=name) for name in PEOPLE]
        s.add_all(users)
        scenes: list[Scene] = []
        n = 0
        for collection, (img_type, action) in COLLECTIONS.items():
            for j in range(scenes_per_collection):
                n += 1
                base_key = f"demo/base/scene {n:03d}.jpg"
                if n % 9 == 4:
                    base_key = f"demo/base/场景 {n:03d}.jpg"
                save_image(draw_base(n, f"scene {n}"), folder, base_key)
                images += 1
                hints: list[str] | None
                if j % 5 == 3:
                    hints = None if j % 2 else []
                else:
                    hints = [f"demo/pose/scene-{n:03d}.png"]
                    save_image(draw_pose(n), folder, hints[0])
                    images += 1
                scenes.append(
                    Scene(
                        name=f"{collection.split()[0]} #{j + 1}",
                        prompt=PROMPTS[(n + j) % len(PROMPTS)],
                        negative_prompt="blurry, extra fingers, 水印",
                        action_type=action,
                        img_type=img_type,
                        rate=None if j % 6 == 5 else round(rng.uniform(3, 9) * 2) / 2,
                        base_img_key=base_key,
                        hint_img_list=hints,
                        params=None if j % 7 == 6 else _params(rng, n),
                        collection_name=collection,
                        model_name=rng.choice(["sdxl-base-1.0", "mj-v6", "reface-2"]),
                        tags="demo",
                        setup_status="ready" if j % 3 == 0 else None,
                    )
                )
        s.add_all(scenes)
        s.flush()

        now = utcnow()
        tasks: list[Task] = []
        for k, scene in enumerate(scenes[::2]):
            user = users[k % len(users)]
            status = [TaskStatus.DONE, TaskStatus.DONE, TaskStatus.FAILED][k % 3]
            if k % 8 == 7:
                status = TaskStatus.PENDING
            task = Task(
                person_id=user.id,
                scene_id=scene.scene_id,
                collection_name=scene.collection_name,
                status=status.value,
                created_at=now - timedelta(hours=48 - k),
                updated_at=now - timedelta(hours=47 - k),
            )
            if status is TaskStatus.FAILED:
                task.error = "render_scene: CUDA out of memory (demo failure)"
            tasks.append(task)
        s.add_all(tasks)
        s.flush()
        by_id = {sc.scene_id: sc for sc in scenes}
        for task in tasks:
            if task.status != TaskStatus.DONE:
                continue
            scene = by_id[task.scene_id]
            base = Image.open(key_path(scene.base_img_key or "", folder))
            person = next(u.name for u in users if u.id == task.person_id)
            key = f"demo/results/task-{task.id:05d}.jpg"
            save_image(draw_result(base, scene.prompt or "", person), folder, key)
            images += 1
            task.result_img_key = key
        report = SeedReport(len(scenes), len(users), len(tasks), images)
    log.info("seeded demo data: %s", report)
    return report
