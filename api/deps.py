"""Request dependencies: the running service, the caller, and role checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Annotated, overload

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.models import Role, StaffMember
from bot.runtime import Runtime, get_runtime
from bot.services import access
from bot.services import staff as staff_service

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
_bearer = HTTPBearer(auto_error=False, description="员工 API 令牌")


def current_staff(runtime: RuntimeDep,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
                  ) -> StaffMember:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "缺少令牌：请在 Authorization 头中提供 Bearer 令牌",
                            headers={"WWW-Authenticate": "Bearer"})
    staff = runtime.unit_of_work(staff_service.authenticate, credentials.credentials)
    if staff is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "令牌无效或已停用",
                            headers={"WWW-Authenticate": "Bearer"})
    return staff


CurrentStaff = Annotated[StaffMember, Depends(current_staff)]


def require(*roles: Role) -> Callable[[StaffMember], StaffMember]:
    def check(staff: CurrentStaff) -> StaffMember:
        if not staff.has_role(*roles):
            wanted = "、".join(roles)
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"权限不足：需要角色 {wanted}")
        return staff

    check.roles = roles  # type: ignore[attr-defined]  # the OpenAPI declares a 403 for the operations that check roles
    return check


AdminDep = Annotated[StaffMember, Depends(require(Role.ADMIN))]
ReplierDep = Annotated[StaffMember, Depends(require(*access.REPLIERS))]


@overload
def in_local_zone(moment: datetime, tz: tzinfo) -> datetime: ...
@overload
def in_local_zone(moment: None, tz: tzinfo) -> None: ...
def in_local_zone(moment: datetime | None, tz: tzinfo) -> datetime | None:
    """A date-time given without an offset is the district's local time."""
    if moment is None or moment.tzinfo:
        return moment
    return moment.replace(tzinfo=tz)
