"""The default visit checklist (DOMAIN.md: what a CM checks and collects on a visit). Editable in the admin site.

``ensure_default_checklist()`` runs after every migrate (and after a test database flush): it adds the default items
only while the checklist is empty, so an administrator's edits and deletions are never undone.
"""

from __future__ import annotations

ITEMS = [
    # code, name, English name, answer, visit types (empty: all), required, help text
    ("price_tags", "明码标价", "Price tags shown", "yes_no", [], True, "每个在售规格都有价签, 价格与实际相符"),
    (
        "display",
        "卷烟陈列",
        "Cigarette display",
        "score",
        [],
        True,
        "1 差 … 5 好: 整洁, 按价类分区, 重点品牌在黄金位置",
    ),
    ("shop_image", "终端形象", "Shop image", "score", [], True, "门头, 柜台, 卫生, 标识"),
    ("key_brand_stock", "重点品牌库存", "Key brands in stock", "key_brands", [], True, "勾选店内有货的重点品牌"),
    ("new_product_placed", "新品布点", "New product placed", "yes_no", ["new_product"], True, "新品是否已上柜"),
    (
        "new_product_selling",
        "新品动销",
        "New product selling",
        "number",
        ["new_product"],
        True,
        "上次拜访以来售出的条数",
    ),
    (
        "retailer_info",
        "客户信息核实",
        "Retailer information checked",
        "yes_no",
        [],
        True,
        "电话, 地址, 经营状况, 结算方式是否与档案一致; 不一致请在“客户信息更新”中修改",
    ),
    ("stock_sales", "进销存", "Stock, purchases and sales", "text", ["focus"], False, "主要规格的库存和周销量"),
    ("complaint_followup", "诉求处理回访", "Complaint follow-up", "text", ["service"], True, "处理结果及客户意见"),
]


def ensure_default_checklist() -> int:
    """Create the default items if there are no checklist items at all; returns how many were created."""
    from .models import ChecklistItem

    if ChecklistItem.objects.exists():
        return 0
    ChecklistItem.objects.bulk_create(
        ChecklistItem(
            code=code,
            name=name,
            name_en=name_en,
            answer=answer,
            visit_types=types,
            required=required,
            help_text=help_text,
            position=position * 10,
        )
        for position, (code, name, name_en, answer, types, required, help_text) in enumerate(ITEMS, start=1)
    )
    return len(ITEMS)
