"""The Chinese text of the summaries cmdesk drafts for a customer manager (周总结 / 月总结 / 年度总结).

Every function here turns the figures :mod:`cmdesk.work.services.summaries` gathered (plain dicts, also stored in
``Summary.figures``) into section texts; nothing here reads the database or the KPI engine, so the text can always be
checked against the figures it was written from.

The monthly summary follows seed 002 (what a good 月总结 contains): 片区销售情况分析 compared with last year, last
month and the department's other customer managers; 重点品牌分析 with the retailers' feedback and the trend;
市场及客户分析; 存在问题和建议, each problem with its cause, the retailers concerned and a proposal; 下月工作打算 with
the targets broken down and measures drawn from the problems. The annual summary follows seed 000 and reuses
:func:`cmdesk.analytics.reports.render_zh` for its figures paragraph.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cmdesk.analytics.reports import AnnualSummary, render_zh

# (key, Chinese title) in order, per summary kind; the keys are stable (API, flags, exports)
SECTIONS: dict[str, list[tuple[str, str]]] = {
    "week": [
        ("sales", "本周销售情况"),
        ("visits", "拜访执行情况"),
        ("problems", "发现的问题"),
        ("next_week", "下周工作安排"),
    ],
    "month": [
        ("sales", "片区销售情况分析"),
        ("key_brands", "重点品牌分析"),
        ("market", "市场及客户分析"),
        ("problems", "存在问题和建议"),
        ("next_month", "下月工作打算"),
    ],
    "year": [
        ("review", "年度工作回顾"),
        ("sales", "片区卷烟销售分析"),
        ("problems", "存在的问题"),
        ("next_year", "来年工作计划"),
    ],
}
# sections that must state figures (a sales analysis without a number is empty prose, seed 002)
FIGURE_SECTIONS = {"sales"}
KIND_NAMES = {"week": "周总结", "month": "月度工作总结", "year": "年度工作总结"}
NAMES_SHOWN = 10  # retailers named in a sentence before "等N户"


def section_titles(kind: str) -> dict[str, str]:
    return dict(SECTIONS[kind])


# --- numbers as a report prints them -------------------------------------------------------------------------------
def _n(x: float | None) -> float:
    return float(x) if x is not None else 0.0


def cases(x: float | None) -> str:
    return f"{_n(x):.2f}箱"


def yuan(x: float | None) -> str:
    return f"{_n(x):.2f}元"


def pct(rate: float | None, digits: int = 2) -> str:
    return "—" if rate is None else f"{abs(rate) * 100:.{digits}f}%"


def share(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _zero(x: float, digits: int = 2) -> bool:
    return f"{abs(x):.{digits}f}" == f"{0:.{digits}f}"


def compare(cur: float | None, base: float | None, label: str, unit: str = "箱") -> str:
    """与去年同期（2.69箱）相比减少0.14箱，下降5.06% — or 持平 / 无销售可比."""
    cur, base_v = _n(cur), _n(base)
    if base is None or _zero(base_v):
        return f"{label}无销售可比"
    change = cur - base_v
    shown = f"{base_v:.2f}{unit}"
    if _zero(change):
        return f"与{label}（{shown}）持平"
    word, trend = ("增加", "增长") if change > 0 else ("减少", "下降")
    return f"与{label}（{shown}）相比{word}{abs(change):.2f}{unit}，{trend}{pct(change / base_v)}"


def trend(rate: float | None, up: str = "增长", down: str = "下降", prefix: str = "同比") -> str:
    if rate is None:
        return f"{prefix}无可比数据"
    if _zero(rate * 100):
        return f"{prefix}持平"
    return f"{prefix}{up if rate > 0 else down}{pct(rate)}"


def names(rows: list[dict[str, Any]], key: str = "name") -> str:
    shown = [str(r[key]) for r in rows[:NAMES_SHOWN]]
    text = "、".join(shown)
    if len(rows) > NAMES_SHOWN:
        text += f"等{len(rows)}户"
    return text


def _lines(items: list[str]) -> str:
    return "\n".join(items)


# --- monthly -------------------------------------------------------------------------------------------------------
def month_sales(f: dict[str, Any]) -> str:
    s, d = f["sales"], f.get("dept") or {}
    who = f"{f['cm']['name']}（{'、'.join(f['cm']['routes']) or '无线路'}）"
    out = [
        f"{f['period']['title']}，本片区{who}共销售卷烟{cases(s['cases'])}（{s['cartons']}条），"
        f"销售额{yuan(s['amount'])}，条均价{yuan(s['avg_price'])}。"
    ]
    out.append(f"销量{compare(s['cases'], s['cases_ly'], '去年同期')}；{compare(s['cases'], s['cases_lm'], '上月')}。")
    price = f"条均价{trend(s['avg_price_yoy'], '提高', '降低')}"
    if s.get("avg_price_ly") is not None:
        price += f"（去年同期{yuan(s['avg_price_ly'])}）"
    price += f"，{trend(s.get('avg_price_mom'), '提高', '降低', '环比')}"
    if s.get("avg_price_lm") is not None:
        price += f"（上月{yuan(s['avg_price_lm'])}）"
    out.append(price + "。")
    if d.get("count"):
        text = (
            f"横向比较：{d['name']}共{d['count']}名客户经理，本片区销量排第{d['rank']}位，"
            f"部门人均销量{cases(d['average_cases'])}"
        )
        if d.get("vs_average") is not None:
            text += f"，本片区{'高于' if d['vs_average'] >= 0 else '低于'}部门平均{pct(d['vs_average'])}"
        if d.get("yoy_rank") is not None:
            text += f"；销量增幅排第{d['yoy_rank']}位，部门整体销量{trend(d.get('cases_yoy'))}"
        if d.get("avg_price") is not None:
            text += f"，部门条均价{yuan(d['avg_price'])}"
        out.append(text + "。")
    return "".join(out)


def month_key_brands(f: dict[str, Any]) -> str:
    brands = f.get("key_brands") or []
    if not brands:
        return "本月本片区无重点品牌销售。"
    out = []
    for i, b in enumerate(brands, 1):
        text = (
            f"{i}. {b['brand']}：销售{cases(b['cases'])}，{trend(b['cases_yoy'])}，"
            f"{trend(b['cases_mom'], prefix='环比')}；"
            f"上柜率{share(b['listing_rate'])}（上柜{b['buyers']}户）"
        )
        if b.get("listing_rate_lm") is not None:
            text += f"，上月{share(b['listing_rate_lm'])}"
        if b.get("listing_rate_ly") is not None:
            text += f"，去年同期{share(b['listing_rate_ly'])}"
        text += f"。走势：{b['trend']}。"
        if b.get("falling"):
            text += f"购进明显下滑的客户{len(b['falling'])}户：{names(b['falling'])}。"
        if b.get("feedback"):
            said = "；".join(f"{x['retailer']}反映“{x['text']}”" for x in b["feedback"][:5])
            text += f"客户反馈：{said}。"
        else:
            text += "本月无客户反馈。"
        out.append(text)
    return _lines(out)


def month_market(f: dict[str, Any]) -> str:
    m = f["market"]
    v = m["visits"]
    out = [
        f"本月服务零售客户{m['served']}户，订货客户{m['orderers']}户，订货率{share(m['ordering_rate'])}，"
        f"网上订货占比{share(m['online_share'])}。"
    ]
    if m["stopped"]:
        out.append(f"本月未订货的客户{len(m['stopped'])}户：{names(m['stopped'])}。")
    if m["falling"]:
        out.append(f"订货量明显下滑的客户{len(m['falling'])}户：{names(m['falling'])}。")
    if m["spiking"]:
        out.append(f"订货量异常增长的客户{len(m['spiking'])}户：{names(m['spiking'])}。")
    visit = f"本月完成拜访{v['done']}次，拜访客户{v['retailers']}户，拜访覆盖率{share(v['coverage'])}"
    if v["planned"]:
        visit += f"；周安排计划拜访{v['planned']}次，按计划完成{v['planned_done']}次"
    if v["far"]:
        visit += f"；签到位置偏离门店{v['far']}次"
    if v["short"]:
        visit += f"；拜访时长不足{v['min_minutes']}分钟{v['short']}次"
    out.append(visit + "。")
    if v["not_visited"]:
        out.append(f"本月未拜访的客户{len(v['not_visited'])}户：{names(v['not_visited'])}。")
    if m["checks"]:
        items = "；".join(f"{c['item']}不合格{c['count']}户（{names(c['retailers'])}）" for c in m["checks"])
        out.append(f"拜访检查发现：{items}。")
    else:
        out.append("拜访检查未发现不合格项。")
    if m["feedback"]:
        out.append(f"本月收集客户需求、投诉及市场信息{m['feedback']}条，未办结{len(m['open_feedback'])}条。")
    return "".join(out)


def problems_text(problems: list[dict[str, Any]], empty: str = "本期未发现需要上报的问题。") -> str:
    if not problems:
        return empty
    out = []
    for i, p in enumerate(problems, 1):
        text = f"{i}. {p['title']}。原因分析：{p['cause']}"
        if p.get("retailers"):
            text += f" 涉及客户{len(p['retailers'])}户：{names(p['retailers'])}。"
        text += f" 建议：{p['proposal']}"
        out.append(text)
    return _lines(out)


def month_next(f: dict[str, Any]) -> str:
    n = f["next_month"]
    if n["source"] == "plan":
        head = f"{n['title']}计划销量{cases(n['target_cases'])}（已报月计划）"
    else:
        head = (
            f"{n['title']}建议销量目标{cases(n['target_cases'])}（去年同期{cases(n['cases_ly'])}"
            f"×本月同比走势{n['trend']:.2f}）"
        )
    out = [head + "。"]
    if n["brands"]:
        out.append("分品牌：" + "；".join(f"{b['brand']}{cases(b['target_cases'])}" for b in n["brands"]) + "。")
    if len(n["routes"]) > 1:
        out.append("分线路：" + "；".join(f"{r['route']}{cases(r['target_cases'])}" for r in n["routes"]) + "。")
    if n["measures"]:
        out.append("主要措施：" + "".join(f"（{i}）{m}" for i, m in enumerate(n["measures"], 1)))
    if n["difficulties"]:
        out.append("难点：" + "；".join(n["difficulties"]) + "。")
    return "\n".join(out)


def draft_month(f: dict[str, Any]) -> dict[str, str]:
    return {
        "sales": month_sales(f),
        "key_brands": month_key_brands(f),
        "market": month_market(f),
        "problems": problems_text(f["problems"]),
        "next_month": month_next(f),
    }


# --- weekly --------------------------------------------------------------------------------------------------------
def draft_week(f: dict[str, Any]) -> dict[str, str]:
    s, v = f["sales"], f["visits"]
    sales = (
        f"{f['period']['title']}，本片区共销售卷烟{cases(s['cases'])}（{s['cartons']}条），条均价{yuan(s['avg_price'])}；"
        f"{compare(s['cases'], s['cases_ly'], '去年同周')}；{compare(s['cases'], s['cases_lm'], '上周')}。"
        f"本周订货客户{s['orderers']}户，订货率{share(s['ordering_rate'])}。"
    )
    visits = f"本周计划拜访{v['planned']}次，完成{v['planned_done']}次"
    if v["planned"]:
        visits += f"（完成率{share(v['planned_done'] / v['planned'])}）"
    visits += f"；实际拜访{v['done']}次，拜访客户{v['retailers']}户"
    if v["unplanned"]:
        visits += f"，其中计划外拜访{v['unplanned']}次"
    visits += "。"
    if v["missed"]:
        visits += f"未按计划拜访的客户{len(v['missed'])}户：{names(v['missed'])}。"
    if v["far"] or v["short"]:
        visits += f"签到偏离门店{v['far']}次，拜访时长不足{v['min_minutes']}分钟{v['short']}次。"
    nxt = f["next_week"]
    if nxt["source"] == "arrangement":
        days = "；".join(f"{d['date']}（{d['weekday']}）拜访{d['count']}户" for d in nxt["days"])
        plan = f"下周已安排拜访{nxt['total']}户次：{days}。" if nxt["days"] else "下周周安排尚未排入拜访。"
    else:
        plan = "下周周安排尚未制定。"
    if nxt["focus"]:
        plan += f"重点拜访：{names(nxt['focus'])}。"
    if nxt["measures"]:
        plan += "工作重点：" + "；".join(nxt["measures"]) + "。"
    return {
        "sales": sales,
        "visits": visits,
        "problems": problems_text(f["problems"], "本周未发现需要上报的问题。"),
        "next_week": plan,
    }


# --- annual (seed 000) ---------------------------------------------------------------------------------------------
def annual_figures(s: AnnualSummary) -> dict[str, Any]:
    """The annual summary's figures as JSON (what ``Summary.figures`` keeps)."""
    return {
        "year": s.year,
        "retailers": s.retailers,
        "online_retailers": s.online_retailers,
        "online_share": s.online_share,
        "served": s.served,
        "cases": s.cases,
        "cases_ly": s.cases_ly,
        "change": s.change,
        "yoy": s.yoy,
        "provincial_cases": s.provincial_cases,
        "provincial_cases_ly": s.provincial_cases_ly,
        "provincial_yoy": s.provincial_yoy,
        "avg_price": s.avg_price,
        "avg_price_ly": s.avg_price_ly,
        "avg_price_yoy": s.avg_price_yoy,
        "classes": [
            {
                "rank": c.rank,
                "name": c.name,
                "cases": c.cases,
                "cases_ly": c.cases_ly,
                "change": c.change,
                "yoy": c.yoy,
                "share": c.share,
            }
            for c in s.classes
        ],
        "unclassified": None
        if s.unclassified is None
        else {"cases": s.unclassified.cases, "cases_ly": s.unclassified.cases_ly, "yoy": s.unclassified.yoy},
    }


def draft_year(s: AnnualSummary, extra: dict[str, Any]) -> dict[str, str]:
    """The annual summary's sections from :func:`annual_summary`'s figures and the year's work records (``extra``)."""
    review = []
    if s.retailers:
        review.append(
            f"{s.year}年共服务零售客户{s.retailers}户，其中网上订货客户{s.online_retailers}户，"
            f"占总客户数的{share(s.online_share)}" + ("，仍有较大的发展空间。" if (s.online_share or 0) < 0.8 else "。")
        )
    v = extra.get("visits") or {}
    review.append(
        f"全年按“135”工作法完成拜访{v.get('done', 0)}次，拜访客户{v.get('retailers', 0)}户；"
        f"提交月总结{extra.get('month_summaries', 0)}份；收集客户需求、投诉及市场信息{extra.get('feedback', 0)}条，"
        f"办结{extra.get('feedback_resolved', 0)}条。"
    )

    # render_zh's opening sentence (retailers, online share) is the review's; the figures paragraph starts at sales
    sales = ["（1）主要指标情况：" + render_zh(replace(s, retailers=0))]
    falling = [c for c in s.classes if c.yoy is not None and c.yoy < 0]
    rising = [c for c in s.classes if c.yoy is not None and c.yoy > 0]
    if s.classes:
        structure = "（2）各类烟销售情况对比："
        if rising:
            structure += "、".join(f"{c.name}烟" for c in rising) + "销量同比增长"
        if rising and falling:
            structure += "，"
        if falling:
            worst = min(falling, key=lambda c: c.yoy)
            structure += (
                "、".join(f"{c.name}烟" for c in falling) + f"销量同比下降，其中{worst.name}烟降幅最大"
                f"（{pct(worst.yoy)}，减少{abs(worst.change):.2f}箱）"
            )
        structure += "。"
        if s.avg_price_yoy is not None and s.avg_price_yoy > 0:
            structure += f"销售结构有所提升，条均价{trend(s.avg_price_yoy, '提高', '降低')}。"
        sales.append(structure)
    problems = [p for p in extra.get("problems", [])]
    return {
        "review": "".join(review),
        "sales": "\n".join(sales),
        "problems": problems_text(problems, "本年度未发现需要上报的问题。"),
        "next_year": _lines(f"{i}. {m}" for i, m in enumerate(extra.get("plan", []), 1)),
    }


def year_problems(s: AnnualSummary, extra: dict[str, Any]) -> list[dict[str, Any]]:
    """The year's problems from its figures, each with cause and proposal."""
    out: list[dict[str, Any]] = []
    falling = sorted((c for c in s.classes if c.yoy is not None and c.yoy < 0), key=lambda c: c.yoy)
    for c in falling[:2]:
        out.append(
            {
                "kind": "class_falling",
                "title": f"{c.name}烟销量{cases(c.cases)}，同比下降{pct(c.yoy)}",
                "cause": "消费结构提升、消费者健康意识增强，零售户经营低档烟利润薄、积极性不高。"
                if (c.rank or 0) >= 4
                else "消费升级中该档位受相邻档位和新规格替代，部分客户订货积极性下降。",
                "proposal": "稳住该类烟的基本消费群体，引导零售户合理订货、保持货源不断档，同时做好替代规格的培育。",
                "retailers": [],
            }
        )
    if s.retailers and (s.online_share or 0) < 0.8:
        out.append(
            {
                "kind": "online",
                "title": f"网上订货客户占比{share(s.online_share)}，比例不高",
                "cause": f"尚有{s.retailers - s.online_retailers}户客户未使用网上订货，多为农村及中小客户。",
                "proposal": "从乡镇街道及主干道客户入手推广网上订货，上门指导操作，可由子女或邻近客户协助订货。",
                "retailers": [],
            }
        )
    if s.served > 0 and extra.get("non_buyers"):
        n = extra["non_buyers"]
        out.append(
            {
                "kind": "non_buyers",
                "title": f"全年有{n}户服务客户未订货",
                "cause": "客户停业、转让或经营重心转移，需逐户核实。",
                "proposal": "逐户上门核实经营状态，停业的及时办理相关手续，发现借证、转让经营迹象的反馈市管员。",
                "retailers": [],
            }
        )
    for c in extra.get("checks", []):
        out.append(
            {
                "kind": "check",
                "title": f"全年拜访检查发现{c['item']}不合格{c['count']}户",
                "cause": "零售户规范经营意识不强，整改不及时。",
                "proposal": CHECK_PROPOSALS.get(c["code"], CHECK_PROPOSAL_DEFAULT),
                "retailers": c["retailers"],
            }
        )
    if extra.get("open_feedback"):
        out.append(
            {
                "kind": "open_feedback",
                "title": f"客户需求和投诉尚有{len(extra['open_feedback'])}条未办结",
                "cause": "部分问题需要部门协调解决。",
                "proposal": "逐条明确办结时限，无法解决的上报部门协调，并向客户做好解释。",
                "retailers": [{"name": x["retailer"]} for x in extra["open_feedback"]],
            }
        )
    return out


def year_plan(s: AnnualSummary, target: float) -> list[str]:
    plan = [
        f"销量目标：来年力争销售卷烟{cases(target)}以上，省产烟不低于{cases(s.provincial_cases)}，"
        f"条均价保持在{yuan(s.avg_price)}以上。",
        "扎实开展品牌培育，以重点品牌为主线，提升品牌结构，拓展品牌宽度。",
        "按“135”工作法开展月计划、周安排、日拜访、周总结和月总结，有针对性地开展服务营销。",
        "关注零售户销量波动，对波动较大的客户及时沟通，并与片区市管员联系，防止违规经营。",
        "做好零售户基础信息维护，加强订单指导，帮助零售户消化库存、规范明码标价。",
    ]
    if s.retailers and (s.online_share or 0) < 0.8:
        plan.insert(1, f"继续推广网上订货，力争网上订货客户占比由{share(s.online_share)}进一步提高。")
    return plan


# --- problem proposals ---------------------------------------------------------------------------------------------
CHECK_PROPOSALS = {
    "price_tags": "指导零售户规范明码标价、补齐价签，下次拜访逐户复查。",
    "display": "帮助零售户重新整理卷烟陈列，重点品牌放在醒目位置，下次拜访复查。",
    "shop_image": "督促零售户改善店容店貌，必要时申请终端形象提升支持。",
}
CHECK_PROPOSAL_DEFAULT = "督促零售户限期整改，下次拜访复查整改情况。"
