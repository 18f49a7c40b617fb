"""Every indicator, defined once.

An indicator is a SQL expression over the *base* columns of one result row (one group). The base columns are exact
integers counted by :mod:`cmdesk.analytics.sql` from the order facts and the dimension snapshots; the expression is
the formula, written in the SQL subset that DuckDB and Spark evaluate identically (integer sums, ``CAST(... AS
DOUBLE)`` and ``NULLIF`` for ratios). ``docs/indicators.md`` is generated from this table
(``cmdesk kpi --explain``) and must stay in step with it.

Base columns (``_ly`` = the same span last year, ``_lm`` = the previous period; all sums in cartons unless noted):

==================  ====================================================================================
served              retailers served in the period (open at some point of it), in the group's scope
routes              routes of those retailers
cartons             Σ supplied quantity (供货量): the sales
amount_fen          Σ amount in fen (0.01 yuan)
demanded            Σ demanded (需求量)
allotted            Σ allotted (合理定量)
ordered             Σ ordered (订货量)
prov_cartons        Σ supplied of provincial brands (省产烟)
buyers              retailers with supplied > 0
orderers            retailers with ordered > 0
routes_sold         routes with supplied > 0
skus_sold           products on sale with supplied > 0
skus_listed         products on sale in the period (catalogue)
pairs_allotted      retailer × product pairs with allotted > 0
pairs_full          … of which ordered ≥ allotted
pairs_ordering      … of which ordered > 0
orders              orders (one per retailer and order day); with a product grouping, orders containing it
online_orders       … placed through the online channel
repeat_buyers       buyers that also bought in the previous period (same product grouping)
==================  ====================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Indicator:
    name: str
    label_zh: str
    label_en: str
    unit: str  # case | carton | yuan | yuan/carton | yuan/case | ratio | count
    sql: str
    formula: str
    digits: int = 2  # how many decimals a report shows (ratios are shown as percentages with `digits`)


def _r(a: str, b: str) -> str:
    return f"CAST({a} AS DOUBLE) / NULLIF({b}, 0)"


def _growth(cur: str, prev: str) -> str:
    return f"CAST(({cur}) - ({prev}) AS DOUBLE) / NULLIF({prev}, 0)"


_PRICE = "CAST(amount_fen AS DOUBLE) / NULLIF(cartons * 100, 0)"
_PRICE_LY = "CAST(amount_fen_ly AS DOUBLE) / NULLIF(cartons_ly * 100, 0)"
_PRICE_LM = "CAST(amount_fen_lm AS DOUBLE) / NULLIF(cartons_lm * 100, 0)"
_PER_BUYER = "CAST(cartons AS DOUBLE) / NULLIF(buyers, 0)"
_PER_BUYER_LM = "CAST(cartons_lm AS DOUBLE) / NULLIF(buyers_lm, 0)"

_LIST = [
    # --- retailers --------------------------------------------------------------------------------------------
    Indicator("served", "服务户数", "retailers served", "count", "served", "retailers open in the period", 0),
    Indicator("orderers", "订货户数", "ordering retailers", "count", "orderers", "retailers with ordered > 0", 0),
    Indicator("ordering_rate", "订货率", "ordering rate", "ratio", _r("orderers", "served"), "orderers ÷ served"),
    Indicator("orders", "订单数", "orders", "count", "orders", "orders (one per retailer and order day)", 0),
    Indicator(
        "online_share", "网上订货率", "online-order share", "ratio", _r("online_orders", "orders"),
        "orders placed online ÷ orders",
    ),
    # --- volume and value -------------------------------------------------------------------------------------
    Indicator("cartons", "销量(条)", "cartons", "carton", "cartons", "Σ supplied cartons", 0),
    Indicator("cases", "销量(箱)", "cases", "case", "CAST(cartons AS DOUBLE) / 250", "Σ supplied cartons ÷ 250"),
    Indicator("cases_ly", "同期销量(箱)", "cases last year", "case", "CAST(cartons_ly AS DOUBLE) / 250",
              "cases in the same span last year"),
    Indicator("cases_yoy_change", "销量同比增减(箱)", "cases change on last year", "case",
              "CAST(cartons - cartons_ly AS DOUBLE) / 250", "cases − cases last year"),
    Indicator("cases_yoy", "销量同比", "cases YoY", "ratio", _growth("cartons", "cartons_ly"),
              "(cartons − cartons last year) ÷ cartons last year"),
    Indicator("cases_lm", "上期销量(箱)", "cases previous period", "case", "CAST(cartons_lm AS DOUBLE) / 250",
              "cases in the previous period"),
    Indicator("cases_mom", "销量环比", "cases MoM", "ratio", _growth("cartons", "cartons_lm"),
              "(cartons − cartons previous period) ÷ cartons previous period"),
    Indicator("amount", "销售额(元)", "amount", "yuan", "CAST(amount_fen AS DOUBLE) / 100", "Σ amount"),
    Indicator("amount_ly", "同期销售额(元)", "amount last year", "yuan", "CAST(amount_fen_ly AS DOUBLE) / 100",
              "Σ amount in the same span last year"),
    Indicator("amount_yoy", "销售额同比", "amount YoY", "ratio", _growth("amount_fen", "amount_fen_ly"),
              "(amount − amount last year) ÷ amount last year"),
    Indicator("amount_mom", "销售额环比", "amount MoM", "ratio", _growth("amount_fen", "amount_fen_lm"),
              "(amount − amount previous period) ÷ amount previous period"),
    Indicator("avg_price", "条均价(元)", "average price per carton", "yuan/carton", _PRICE, "amount ÷ cartons"),
    Indicator("avg_price_ly", "同期条均价(元)", "average price last year", "yuan/carton", _PRICE_LY,
              "amount last year ÷ cartons last year"),
    Indicator("avg_price_yoy", "条均价同比", "average price YoY", "ratio", f"({_PRICE}) / ({_PRICE_LY}) - 1",
              "条均价 ÷ 条均价 last year − 1"),
    Indicator("avg_price_mom", "条均价环比", "average price MoM", "ratio", f"({_PRICE}) / ({_PRICE_LM}) - 1",
              "条均价 ÷ 条均价 previous period − 1"),
    Indicator("amount_per_case", "单箱额(元)", "amount per case", "yuan/case",
              "CAST(amount_fen AS DOUBLE) * 250 / NULLIF(cartons * 100, 0)", "amount ÷ cases = 条均价 × 250"),
    Indicator("share", "结构占比", "share of parent", "ratio", "share",
              "cartons ÷ cartons of the parent group (the grouping without its last dimension; all when single)"),
    # --- provincial brands --------------------------------------------------------------------------------------
    Indicator("provincial_cases", "省产烟销量(箱)", "provincial cases", "case", "CAST(prov_cartons AS DOUBLE) / 250",
              "Σ supplied cartons of provincial brands ÷ 250"),
    Indicator("provincial_cases_ly", "省产烟同期销量(箱)", "provincial cases last year", "case",
              "CAST(prov_cartons_ly AS DOUBLE) / 250", "provincial cases in the same span last year"),
    Indicator("provincial_yoy", "省产烟同比", "provincial YoY", "ratio", _growth("prov_cartons", "prov_cartons_ly"),
              "(provincial cartons − last year) ÷ last year"),
    Indicator("provincial_share", "省产烟占比", "provincial share", "ratio", _r("prov_cartons", "cartons"),
              "provincial cartons ÷ cartons"),
    # --- distribution -----------------------------------------------------------------------------------------
    Indicator("buyers", "上柜户数", "buying retailers", "count", "buyers", "retailers with supplied > 0", 0),
    Indicator("listing_rate", "上柜率", "listing rate", "ratio", _r("buyers", "served"), "上柜户数 ÷ served"),
    Indicator("coverage", "覆盖率", "coverage", "ratio", _r("routes_sold", "routes"),
              "routes (markets) where it sold ÷ routes served"),
    Indicator("per_buyer", "户均购进(条)", "cartons per buying retailer", "carton", _PER_BUYER,
              "cartons ÷ 上柜户数"),
    Indicator("dongxiao_per_buyer", "动销率(户均购进环比)", "movement: per-buyer purchase vs previous period",
              "ratio", f"({_PER_BUYER}) / ({_PER_BUYER_LM})",
              "(cartons ÷ buyers) this period ÷ (cartons ÷ buyers) previous period (tobacco exam definition)"),
    Indicator("dongxiao_sku", "动销率(品规动销面)", "movement: share of products on sale that sold", "ratio",
              _r("skus_sold", "skus_listed"), "products on sale with sales ÷ products on sale (retail definition)"),
    Indicator("repeat_rate", "重购率", "repeat-purchase rate", "ratio", _r("repeat_buyers", "buyers"),
              "retailers that bought in this and the previous period ÷ retailers that bought in this period"),
    # --- allotment and supply ---------------------------------------------------------------------------------
    Indicator("fill_rate", "订足率", "allotment fill rate", "ratio", _r("ordered", "allotted"),
              "Σ ordered ÷ Σ allotted (合理定量)"),
    Indicator("full_share", "订足面", "share ordering their full allotment", "ratio",
              _r("pairs_full", "pairs_allotted"),
              "retailer × product pairs with ordered ≥ allotted ÷ pairs with allotted > 0"),
    Indicator("intake_share", "进货面", "share ordering at all", "ratio", _r("pairs_ordering", "pairs_allotted"),
              "retailer × product pairs with ordered > 0 ÷ pairs with allotted > 0"),
    Indicator("satisfaction", "订单满足率", "order satisfaction", "ratio", _r("cartons", "demanded"),
              "Σ supplied ÷ Σ demanded"),
]

INDICATORS: dict[str, Indicator] = {i.name: i for i in _LIST}

# The set a dashboard shows first; CLI and API default to all of INDICATORS.
DEFAULT = (
    "served", "orderers", "ordering_rate", "cases", "cases_yoy", "amount", "avg_price", "avg_price_yoy",
    "provincial_share", "listing_rate", "fill_rate", "satisfaction",
)
