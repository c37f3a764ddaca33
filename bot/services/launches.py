"""New-product publicity (新品宣传): launches, their publicity plans, approval and interest.

A launch is a catalogue product with its launch date, selling points and
image. Its plan is a few posts (before, on and after the launch day) that the
scheduler's sweep sends through the same broadcast path as supply notices.
A manufacturer's publicity is posted only after staff approve it; a launch
the district writes itself is approved as it is made.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import Field
from sqlalchemy import update
from sqlmodel import Session, col, select

from bot import texts
from bot.fields import Body, Moment
from bot.models import Approval, Launch, Product, PublicityPost, id_of
from bot.services import broadcast, interest, media, products
from bot.services.errors import Conflict, NotFound, ServiceError

SUBJECT = "launch"
RECENT = timedelta(days=60)  # a launch counts as new for this long


class PostIn(Body):
    nullable = frozenset({"note"})

    send_at: Moment
    kind: str = Field(pattern="^(before|launch_day|after)$")
    note: str | None = Field(None, max_length=256)


def _launch(session: Session, launch_id: int) -> Launch:
    launch = session.get(Launch, launch_id)
    if launch is None:
        raise NotFound(f"新品 {launch_id} 不存在")
    return launch


def create_launch(session: Session, product: dict, data: dict, plan: list[PostIn] | None, *,
                  staff_id: int | None, now: datetime, tz: ZoneInfo) -> Launch:
    """Add the product to the catalogue (or reuse it), open its launch and plan its posts
    (the default plan, less what is already past, when none is given)."""
    found = products.get_or_create(session, product["name"], now=now,
                                   **{key: value for key, value in product.items() if key != "name"})
    approved = data.get("source", "district") == "district"
    launch = Launch(product_id=id_of(found), **data, created_by_staff_id=staff_id, created_at=now,
                    approval=Approval.APPROVED if approved else Approval.PENDING,
                    approved_by_staff_id=staff_id if approved else None, approved_at=now if approved else None)
    session.add(launch)
    session.flush()
    if plan is None:
        plan = [post for post in default_plan(launch, tz) if post.send_at > now]
    set_plan(session, id_of(launch), plan, now=now)
    return launch


EDITABLE = frozenset({"launch_date", "selling_points", "districts", "group_ids"})
PRODUCT_EDITABLE = frozenset({"spec", "manufacturer", "wholesale_price", "retail_price"})


def update_launch(session: Session, launch_id: int, changes: dict, product_changes: dict | None = None) -> Launch:
    """Correct a launch's card (launch date, selling points; the product's spec, manufacturer and prices, which
    the catalogue keeps for every notice) or its targets. The posts not sent yet carry the corrected card to the
    corrected groups; those sent stay as the groups read them. The plan's times stay as they are (a new launch
    date may call for a new plan: `set_plan`)."""
    launch = _launch(session, launch_id)
    product_changes = product_changes or {}
    if launch.approval == Approval.REJECTED:
        raise Conflict("该新品宣传已驳回，不能修改")
    if unknown := sorted((set(changes) - EDITABLE) | (set(product_changes) - PRODUCT_EDITABLE)):
        raise ServiceError(f"不能修改的项：{'、'.join(unknown)}")
    product = products.get_product(session, launch.product_id)
    if (all(getattr(launch, key) == value for key, value in changes.items())
            and all(getattr(product, key) == value for key, value in product_changes.items())):
        raise ServiceError("没有任何改动")
    for key, value in changes.items():
        setattr(launch, key, value)
    session.add(launch)
    if product_changes:
        products.update_product(session, launch.product_id, product_changes)
    return launch


def attach_image(session: Session, launch_id: int, content: bytes, *, base_url: str, staff_id: int | None,
                 now: datetime) -> Launch:
    """The launch's picture, uploaded: stored by the service (size and type checked), sent with its posts."""
    launch = _launch(session, launch_id)
    launch.image_url = media.address(base_url, media.store_image(session, content, staff_id=staff_id, now=now))
    session.add(launch)
    return launch


def decide(session: Session, launch_id: int, *, approve: bool, staff_id: int, now: datetime) -> Launch:
    """Staff approve a manufacturer's publicity (its posts may then go out) or reject it."""
    launch = _launch(session, launch_id)
    if launch.approval != Approval.PENDING:
        raise Conflict(f"该新品宣传已{'批准' if launch.approval == Approval.APPROVED else '驳回'}")
    launch.approval = Approval.APPROVED if approve else Approval.REJECTED
    launch.approved_by_staff_id, launch.approved_at = staff_id, now
    session.add(launch)
    if not approve:
        session.exec(update(PublicityPost).where(
            col(PublicityPost.launch_id) == launch_id, col(PublicityPost.state) == "scheduled"
        ).values(state="cancelled"))
    return launch


def default_plan(launch: Launch, tz: ZoneInfo) -> list[PostIn]:
    """Three days before, the launch day and a week after, each at 09:00 local time."""
    def at(day: date) -> datetime:
        return datetime.combine(day, time(9, 0), tzinfo=tz)

    return [PostIn(send_at=at(launch.launch_date - timedelta(days=3)), kind="before"),
            PostIn(send_at=at(launch.launch_date), kind="launch_day"),
            PostIn(send_at=at(launch.launch_date + timedelta(days=7)), kind="after")]


def set_plan(session: Session, launch_id: int, posts: list[PostIn], *, now: datetime) -> list[PublicityPost]:
    """Replace the posts not yet sent; sent ones stay as history."""
    launch = _launch(session, launch_id)
    if launch.approval == Approval.REJECTED:
        raise Conflict("该新品宣传已驳回")
    if any(post.send_at <= now for post in posts):
        raise ServiceError("宣传计划的发送时间必须晚于现在")
    session.exec(update(PublicityPost).where(
        col(PublicityPost.launch_id) == launch_id, col(PublicityPost.state) == "scheduled").values(state="cancelled"))
    made = [PublicityPost(launch_id=launch_id, send_at=post.send_at, kind=post.kind, note=post.note)
            for post in sorted(posts, key=lambda post: post.send_at)]
    session.add_all(made)
    session.flush()
    return made


def plan_of(session: Session, launch_id: int) -> list[PublicityPost]:
    return list(session.exec(select(PublicityPost).where(col(PublicityPost.launch_id) == launch_id)
                             .order_by(col(PublicityPost.send_at), col(PublicityPost.id))))


def posts_due(session: Session, *, now: datetime) -> list[int]:
    """Send the publicity posts whose time has come, for approved launches only (the sweep calls this)."""
    due = session.exec(
        select(PublicityPost, Launch, Product)
        .join(Launch, col(Launch.id) == PublicityPost.launch_id).join(Product, col(Product.id) == Launch.product_id)
        .where(col(PublicityPost.state) == "scheduled", col(PublicityPost.send_at) <= now,
               col(Launch.approval) == Approval.APPROVED)
        .order_by(col(PublicityPost.send_at))).all()
    sent = []
    for post, launch, product in due:
        claimed = session.exec(
            update(PublicityPost).where(col(PublicityPost.id) == post.id, col(PublicityPost.state) == "scheduled")
            .values(state="sent", sent_at=now).execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            continue  # another instance sent it
        text = texts.publicity_post(post.kind, launch, product, post.note)
        broadcast.send(session, subject=SUBJECT, subject_id=id_of(launch), purpose="publicity", revision=id_of(post),
                       text=text, now=now, image_url=launch.image_url,
                       groups=broadcast.target_groups(session, launch.districts, launch.group_ids))
        sent.append(id_of(post))
    return sent


def get_launch(session: Session, launch_id: int) -> tuple[Launch, Product]:
    launch = _launch(session, launch_id)
    return launch, session.get_one(Product, launch.product_id)


def previews(session: Session, launch_id: int, *, public_numbers: Collection[str]
             ) -> list[tuple[PublicityPost, broadcast.Preview]]:
    """Each post still to go out, as its groups will read it when its time comes."""
    launch, product = get_launch(session, launch_id)
    return [(post, broadcast.preview(session, texts.publicity_post(post.kind, launch, product, post.note),
                                     launch.districts, launch.group_ids, public_numbers))
            for post in plan_of(session, launch_id) if post.state == "scheduled"]


def deliveries(session: Session, launch_id: int) -> list[broadcast.DeliveryStatus]:
    _launch(session, launch_id)
    return broadcast.deliveries(session, subject=SUBJECT, subject_id=launch_id)


def interest_counts(session: Session, launch_id: int) -> list[dict]:
    _launch(session, launch_id)
    return interest.interest_counts(session, subject=SUBJECT, subject_id=launch_id)


def list_launches(session: Session, *, approval: str | None = None) -> list[tuple[Launch, Product]]:
    query = select(Launch, Product).join(Product, col(Product.id) == Launch.product_id).order_by(
        col(Launch.launch_date).desc(), col(Launch.id).desc())
    if approval:
        query = query.where(col(Launch.approval) == approval)
    return list(session.exec(query).all())


def current_launches(session: Session, *, group: broadcast.Audience | None, district: str | None, today: date,
                     asker_groups: Sequence[broadcast.Audience] = ()) -> list[tuple[Launch, Product]]:
    """Approved launches of the last two months and those coming, that reach this group, or in private
    this district (without one, the groups the asker posts in)."""
    found = session.exec(
        select(Launch, Product).join(Product, col(Product.id) == Launch.product_id)
        .where(col(Launch.approval) == Approval.APPROVED, col(Launch.launch_date) >= today - RECENT)
        .order_by(col(Launch.launch_date).desc())).all()
    return [(launch, product) for launch, product in found
            if (broadcast.reaches(group, launch.districts, launch.group_ids) if group is not None
                else broadcast.reaches_privately(launch.districts, launch.group_ids, district=district,
                                                 groups=asker_groups))]
