"""The look shared by every view: spacing, status badges, folded long text.

One ``<style>`` block (:func:`style_widget`) gives every view the same
spacing and colours; the helpers return escaped HTML fragments that use its
classes. A status is never shown by colour alone: each badge carries a word
and a symbol too, for colour-blind readers and for screenshots in grey.
"""

from __future__ import annotations

import html

import ipywidgets as w

# One status, one word and one colour, so that "failed" reads the same in the
# gallery, the generate panel and the scene cards.
STATUS_LOOK: dict[str, tuple[str, str, str]] = {
    # status: (word, symbol, colour)
    "pending": ("Waiting", "○", "#6b7280"),
    "queued": ("Queued", "◔", "#2563eb"),
    "set_up": ("Set up", "◑", "#0e7490"),
    "running": ("Rendering", "◕", "#b45309"),
    "done": ("Done", "●", "#15803d"),
    "failed": ("Failed", "✕", "#b91c1c"),
    "cancelled": ("Cancelled", "⊘", "#6b7280"),
    "undispatched": ("Not sent", "!", "#c2410c"),
    "stale": ("Stalled", "⌛", "#7c3aed"),
}
UNKNOWN_LOOK = ("", "?", "#6b7280")

#: Prompts longer than this many characters are folded behind "more".
FOLD_AT = 140

CSS = """
.photolab-app { --photolab-gap: 8px; font-size: var(--jp-content-font-size1, 14px); }
.photolab-app .photolab-title { margin: 0 0 4px 0; font-weight: 600; }
.photolab-app .photolab-subtitle { margin: 0 0 var(--photolab-gap) 0;
  color: var(--jp-ui-font-color2, #555); }
.photolab-app .widget-tab > .widget-tab-contents,
.photolab-app .jupyter-widget-tab > .widget-tab-contents { padding: 12px; }
.photolab-notice { padding: 8px 12px; margin: 0 0 var(--photolab-gap, 8px) 0;
  border-radius: 4px; border-left: 4px solid #2563eb; background: #eff6ff; }
.photolab-notice.photolab-warning { border-left-color: #c2410c; background: #fff7ed; }
.photolab-notice.photolab-error { border-left-color: #b91c1c; background: #fef2f2; }
.photolab-notice.photolab-success { border-left-color: #15803d; background: #f0fdf4; }
.photolab-badge { display: inline-block; padding: 1px 8px; border-radius: 10px;
  font-size: 12px; line-height: 18px; white-space: nowrap; color: #fff; }
.photolab-fold summary { cursor: pointer; list-style: none; }
.photolab-fold summary::-webkit-details-marker { display: none; }
.photolab-fold-more, .photolab-fold-less { color: var(--jp-brand-color1, #2563eb); }
.photolab-fold[open] .photolab-fold-head, .photolab-fold[open] .photolab-fold-more,
.photolab-fold:not([open]) .photolab-fold-less { display: none; }
.photolab-text { white-space: pre-wrap; overflow-wrap: anywhere; }
.photolab-deep-link { font-size: 12px; font-weight: normal; white-space: nowrap;
  color: var(--jp-brand-color1, #2563eb); text-decoration: none; }
.photolab-deep-link:hover { text-decoration: underline; }
"""


def style_widget() -> w.HTML:
    """The shared ``<style>`` block; add it once to a page or notebook output."""
    sheet = w.HTML(f"<style>{CSS}</style>", layout=w.Layout(height="0px"))
    sheet.add_class("photolab-style")
    return sheet


def status_badge(status: str | None) -> str:
    """A coloured badge with a symbol and a word for a task status (HTML)."""
    key = (status or "").lower()
    word, symbol, colour = STATUS_LOOK.get(key, UNKNOWN_LOOK)
    word = word or (status or "unknown")
    return (
        f"<span class='photolab-badge photolab-status-{html.escape(key or 'none')}'"
        f" style='background:{colour}' title='{html.escape(key or 'unknown')}'>"
        f"{symbol} {html.escape(word)}</span>"
    )


def folded_text(text: str | None, limit: int = FOLD_AT, empty: str = "—") -> str:
    """Escaped text; past ``limit`` characters the rest folds behind "more".

    Uses ``<details>`` so that unfolding needs no kernel round trip and no
    widget model per prompt.
    """
    if not text:
        return f"<span class='photolab-text'>{html.escape(empty)}</span>"
    if len(text) <= limit:
        return f"<span class='photolab-text'>{html.escape(text)}</span>"
    head = text[:limit].rstrip()
    return (
        "<details class='photolab-fold'><summary>"
        f"<span class='photolab-text photolab-fold-head'>{html.escape(head)}</span>"
        "<span class='photolab-fold-more'> … more</span>"
        "<span class='photolab-fold-less'>less ▴</span></summary>"
        f"<span class='photolab-text'>{html.escape(text)}</span></details>"
    )


def notice(message: str, kind: str = "info") -> str:
    """A one-sentence notice box (HTML): info, success, warning or error."""
    extra = f" photolab-{kind}" if kind in ("success", "warning", "error") else ""
    return f"<div class='photolab-notice{extra}'>{html.escape(message)}</div>"
