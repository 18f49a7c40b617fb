"""Build the vendored CJK font used by the PDF exports (cmdesk/static/fonts/cmdesk-cjk.ttf).

ReportLab embeds TrueType fonts with glyf outlines only, and the machines that run cmdesk (and CI) have no CJK font
installed, so cmdesk ships a subset of WenQuanYi Micro Hei (文泉驿微米黑, Apache-2.0 or GPLv3 with the font
exception). The subset holds ASCII, Latin-1, general punctuation, CJK punctuation, full-width forms and the 6,763
hanzi of GB2312, which covers names, places and assessment texts (about 1.3 MB instead of 5 MB).

How to rebuild (one-off; fontTools is not a runtime dependency)::

    cd /tmp && apt-get download fonts-wqy-microhei && dpkg-deb -x fonts-wqy-microhei_*.deb wqy
    .venv/bin/pip install fonttools
    .venv/bin/python scripts/make_cjk_font.py /tmp/wqy/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
    cp /tmp/wqy/usr/share/doc/fonts-wqy-microhei/copyright cmdesk/static/fonts/cmdesk-cjk.LICENSE
"""

from __future__ import annotations

import argparse
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "cmdesk" / "static" / "fonts" / "cmdesk-cjk.ttf"
FAMILY = "cmdesk CJK (WenQuanYi Micro Hei subset)"


def gb2312_hanzi() -> list[int]:
    """The 6,763 hanzi of GB2312: rows 0xB0-0xF7, cells 0xA1-0xFE (row 0xD7 ends at 0xF9)."""
    chars = []
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                continue  # the five empty cells at the end of row 0xD7
    return chars


def gb2312_symbols() -> list[int]:
    """GB2312 rows 1-9 (punctuation, numbers, full-width Latin, kana, Greek, Cyrillic, box drawing)."""
    chars = []
    for hi in range(0xA1, 0xAA):
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return chars


def wanted_codepoints() -> set[int]:
    ranges = [
        (0x20, 0x7E),  # ASCII
        (0xA0, 0xFF),  # Latin-1 supplement (punctuation, ×, ÷, °, ±)
        (0x2000, 0x206F),  # general punctuation (— – ‘ ’ “ ” … ‰)
        (0x2100, 0x214F),  # letterlike (℃ №)
        (0x2190, 0x21FF),  # arrows
        (0x2460, 0x24FF),  # enclosed numbers ①
        (0x25A0, 0x25FF),  # geometric shapes ■ ▲ ●
        (0x3000, 0x303F),  # CJK punctuation 、。《》「」【】
        (0xFF00, 0xFFEF),  # full-width forms （）：；，！？
    ]
    cps = {cp for lo, hi in ranges for cp in range(lo, hi + 1)}
    return cps | set(gb2312_hanzi()) | set(gb2312_symbols())


def build(source: Path, out: Path = OUT) -> Path:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(source), fontNumber=0)  # 0: WenQuanYi Micro Hei (1 is the Mono variant)
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.glyph_names = False
    options.hinting = False  # hints are not used by PDF viewers; dropping them halves the size
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(unicodes=sorted(wanted_codepoints()))
    subsetter.subset(font)
    out.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="wqy-microhei.ttc from the Debian package fonts-wqy-microhei")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    out = build(args.source, args.out)
    print(f"{out}: {out.stat().st_size / 1e6:.2f} MB, {len(gb2312_hanzi())} GB2312 hanzi")


if __name__ == "__main__":
    main()
