"""The department and programme catalogues: the codes every event and rule speaks in.

Programme codes follow the programmes named in the Shanghai paper (seed 000); a department code
names the body that runs a programme. Charities are a source, not a department: their offerings
and fulfilments carry the charity's registration id and the `CHARITY` source kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    """What kind of need a programme meets; stacking rules compare programmes within a category."""

    BASIC_LIVING = "basic_living"
    MEDICAL = "medical"
    EDUCATION = "education"
    HOUSING = "housing"
    EMPLOYMENT = "employment"
    EMERGENCY = "emergency"
    DISABILITY = "disability"
    FOOD = "food"
    CARE = "care"


class HouseholdCategory(StrEnum):
    """The assistance category a household is certified in (救助对象类别)."""

    DIBAO = "dibao"
    LOW_INCOME = "low_income"
    EXTREME_POVERTY = "extreme_poverty"
    EXPENDITURE_POVERTY = "expenditure_poverty"
    MARGINAL = "marginal"


class ColourStatus(StrEnum):
    """Chengdu's four-colour status code: it sets how often a household is visited."""

    RED = "red"
    ORANGE = "orange"
    YELLOW = "yellow"
    GREEN = "green"


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    name_zh: str


@dataclass(frozen=True)
class Programme:
    code: str
    name: str
    name_zh: str
    department: str
    category: Category
    in_kind: bool = False


DEPARTMENTS: dict[str, Department] = {
    d.code: d
    for d in (
        Department("CA", "Civil affairs", "民政局"),
        Department("HRSS", "Human resources and social security", "人力资源和社会保障局"),
        Department("HEALTH", "Health and medical security", "卫生健康委/医疗保障局"),
        Department("EDU", "Education", "教育局"),
        Department("HOUSING", "Housing and urban-rural development", "住房和城乡建设局"),
        Department("DPF", "Disabled persons' federation", "残疾人联合会"),
        Department("UNION", "Federation of trade unions", "总工会"),
    )
}

PROGRAMMES: dict[str, Programme] = {
    p.code: p
    for p in (
        Programme("DIBAO", "Minimum living allowance", "最低生活保障", "CA", Category.BASIC_LIVING),
        Programme("EXTREME_POVERTY", "Extreme-poverty support", "特困人员供养", "CA", Category.BASIC_LIVING),
        Programme("EXPENDITURE_POVERTY", "Expenditure-type poverty aid", "支出型贫困生活救助", "CA", Category.BASIC_LIVING),
        Programme("TEMPORARY", "Temporary assistance", "临时救助", "CA", Category.EMERGENCY),
        Programme("GRAIN_OIL", "Grain and oil aid", "粮油帮困", "CA", Category.FOOD, in_kind=True),
        Programme("COMMUNITY_AID", "Community comprehensive aid", "社区综合帮扶", "CA", Category.CARE),
        Programme("MEDICAL", "Medical assistance", "医疗救助", "HEALTH", Category.MEDICAL),
        Programme("EDUCATION", "Education assistance", "教育救助", "EDU", Category.EDUCATION),
        Programme("EMPLOYMENT", "Employment assistance", "就业救助", "HRSS", Category.EMPLOYMENT),
        Programme("RENTAL_HOUSING", "Rental housing support", "廉租住房保障", "HOUSING", Category.HOUSING),
        Programme("HOUSE_REPAIR", "Dilapidated-house repair", "危旧房改造", "HOUSING", Category.HOUSING, in_kind=True),
        Programme("SEVERE_DISABILITY", "Living allowance for severe disability without work", "重残无业人员生活补助", "DPF", Category.DISABILITY),
        Programme("UNION_HARDSHIP", "Trade-union hardship aid", "工会困难职工帮扶", "UNION", Category.BASIC_LIVING),
        Programme("CHARITY_FOOD", "Charity food parcel", "慈善食品包", "CHARITY", Category.FOOD, in_kind=True),
        Programme("CHARITY_GOODS", "Charity goods", "慈善物资", "CHARITY", Category.CARE, in_kind=True),
        Programme("CHARITY_MONEY", "Charity cash aid", "慈善救助金", "CHARITY", Category.EMERGENCY),
        Programme("CHARITY_SERVICE", "Charity service", "慈善服务", "CHARITY", Category.CARE, in_kind=True),
    )
}

CHARITY_SOURCE = "CHARITY"


def programmes_of(department: str) -> frozenset[str]:
    """The programme codes a department runs: an API key for that department is scoped to these."""
    return frozenset(code for code, p in PROGRAMMES.items() if p.department == department)


@dataclass(frozen=True)
class District:
    code: str
    name: str
    name_zh: str


# Shanghai's sixteen districts by their administrative division code (GB/T 2260).
DISTRICTS: dict[str, District] = {
    d.code: d
    for d in (
        District("310101", "Huangpu", "黄浦区"),
        District("310104", "Xuhui", "徐汇区"),
        District("310105", "Changning", "长宁区"),
        District("310106", "Jing'an", "静安区"),
        District("310107", "Putuo", "普陀区"),
        District("310109", "Hongkou", "虹口区"),
        District("310110", "Yangpu", "杨浦区"),
        District("310112", "Minhang", "闵行区"),
        District("310113", "Baoshan", "宝山区"),
        District("310114", "Jiading", "嘉定区"),
        District("310115", "Pudong", "浦东新区"),
        District("310116", "Jinshan", "金山区"),
        District("310117", "Songjiang", "松江区"),
        District("310118", "Qingpu", "青浦区"),
        District("310120", "Fengxian", "奉贤区"),
        District("310151", "Chongming", "崇明区"),
    )
}
