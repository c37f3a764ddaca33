"""The product catalogue (品规), and finding products in retailers' own words.

Retailers write 软中华, 中华软的, 软华, or a homophone typo such as 中化 or 玉西.
Names are compared as pinyin syllables (pypinyin), so a wrong character with the
right sound still matches; a spec word (软, 硬, 细支…) in the question narrows
a brand to that product.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.models import Product
from bot.services.errors import Conflict, NotFound, ServiceError

PRICE_CLASSES = ("A", "B", "C", "D")
_BRACKETS = re.compile(r"[（(]([^）)]*)[）)]")
_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)


def price_class(retail_price_per_pack: Decimal | None) -> str | None:
    """A above 20 yuan a pack, B 10 to 20, C 5 to 10, D below 5 (shared/GLOSSARY.md)."""
    if retail_price_per_pack is None:
        return None
    if retail_price_per_pack > 20:
        return "A"
    if retail_price_per_pack >= 10:
        return "B"
    if retail_price_per_pack >= 5:
        return "C"
    return "D"


def create_product(session: Session, data: dict, *, now: datetime) -> Product:
    data = dict(data)
    if data.get("price_class") is None:
        data["price_class"] = price_class(data.get("retail_price"))
    elif data["price_class"] not in PRICE_CLASSES:
        raise ServiceError(f"价类只能是 {'/'.join(PRICE_CLASSES)}")
    data.setdefault("brand", brand_of(data["name"]))
    product = Product(**data, created_at=now)
    session.add(product)
    try:
        session.flush()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(f"品规 {data['name']} 已存在") from error
    return product


def get_or_create(session: Session, name: str, *, now: datetime, **data) -> Product:
    """The catalogue's product of that name; a new one is added with what is known of it."""
    product = session.exec(select(Product).where(col(Product.name) == name)).first()
    if product is None:
        product = create_product(session, {"name": name, **data}, now=now)
    return product


def update_product(session: Session, product_id: int, changes: dict) -> Product:
    product = get_product(session, product_id)
    for key, value in changes.items():
        setattr(product, key, value)
    if "retail_price" in changes and "price_class" not in changes:
        product.price_class = price_class(product.retail_price)
    session.add(product)
    return product


def get_product(session: Session, product_id: int) -> Product:
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"品规 {product_id} 不存在")
    return product


def list_products(session: Session, *, q: str | None = None, limit: int | None = None) -> list[Product]:
    """The catalogue, or the products `q` names by characters, pinyin or initials (see `matches`)."""
    found = session.exec(select(Product).order_by(col(Product.id)))
    if not q or not q.strip():
        return list(found)[:limit]
    hits = []
    for product in found:
        if matches(q, product):
            hits.append(product)
            if len(hits) == limit:
                break
    return hits


def matches(q: str, product: Product) -> bool:
    """Whether a picker's search names the product: 中华 or 软中 by characters, zhonghua or zhh by
    pinyin or its initials (as staff type on a keyboard without switching input), 中化 by sound."""
    wanted = _NOT_WORD.sub("", q).lower()
    if not wanted:
        return False
    names = [product.name, product.brand, *product.aliases]
    if any(wanted in _NOT_WORD.sub("", name).lower() for name in names):
        return True
    if wanted.isascii():
        return any(wanted in initials or any(tail.startswith(wanted) for tail in tails)
                   for initials, tails in map(_spellings, names))
    return any(_contains(_syllables(name), _syllables(wanted)) for name in names)


@lru_cache(maxsize=4096)
def _spellings(name: str) -> tuple[str, tuple[str, ...]]:
    """中华(软) -> ("zhr", ("zhonghuaruan", "huaruan", "ruan")): its initials, and its pinyin from each
    syllable on, so a search matches from the start of a syllable."""
    syllables = _syllables(name)
    return ("".join(syllable[0] for syllable in syllables),
            tuple("".join(syllables[start:]) for start in range(len(syllables))))


def brand_of(name: str) -> str:
    """中华(软) -> 中华: the name without its bracketed spec."""
    return _BRACKETS.sub("", name).strip() or name


def _syllables(text: str) -> tuple[str, ...]:
    # Imported on first use: pypinyin costs 0.2 s and 50 MB, which start-up need not pay.
    from pypinyin import lazy_pinyin

    return tuple(lazy_pinyin(_NOT_WORD.sub("", text)))


def _spec_words(product: Product) -> set[str]:
    words: set[str] = set()
    for part in _BRACKETS.findall(product.name):
        words.update(filter(None, re.split(r"[\s·,，/]+", part)))
    return words


@dataclass(frozen=True)
class _Key:
    syllables: tuple[str, ...]
    exact: bool  # the product's own name or nickname, not only its brand


@lru_cache(maxsize=4096)
def _keys(name: str, brand: str, aliases: tuple[str, ...], specs: tuple[str, ...]) -> tuple[_Key, ...]:
    exact = {_NOT_WORD.sub("", name), *aliases}
    for spec in specs:  # 软中华, 中华软
        exact |= {spec + brand, brand + spec}
    keys = [_Key(_syllables(text), True) for text in exact if text]
    keys.append(_Key(_syllables(brand), False))
    return tuple(key for key in keys if key.syllables)


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    size = len(needle)
    return any(haystack[i:i + size] == needle for i in range(len(haystack) - size + 1))


def find_products(text: str, products: list[Product]) -> list[Product]:
    """The products a retailer's words name: exact names first, else every product of a named brand,
    narrowed by any spec word (软, 硬, 细支…) the words also contain."""
    spoken = _syllables(text[:200])
    exact: list[Product] = []
    by_brand: list[Product] = []
    for product in products:
        specs = tuple(sorted(_spec_words(product)))
        for key in _keys(product.name, product.brand, tuple(product.aliases), specs):
            if _contains(spoken, key.syllables):
                (exact if key.exact else by_brand).append(product)
                break
    if exact:
        return exact
    narrowed = [product for product in by_brand
                if any(_contains(spoken, _syllables(spec)) for spec in _spec_words(product))]
    return narrowed or by_brand
