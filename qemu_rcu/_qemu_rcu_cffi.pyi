# SPDX-License-Identifier: MIT
# Types of the compiled module qemu_rcu._qemu_rcu_cffi: cffi's ffi and lib, the
# capsule, and the C read path that qemu_rcu_py_types_init() (py_types.c) adds.
from types import TracebackType
from typing import Any, Callable, Deque, Dict, Generic, Optional, Tuple, Type, TypeVar, final

from typing_extensions import ParamSpec

ffi: Any
lib: Any
_C_API: object

def _write_unraisable(exc: BaseException, obj: object, /) -> None: ...

_P = ParamSpec("_P")

def call_rcu(fn: Callable[_P, object], /, *args: _P.args, **kwargs: _P.kwargs) -> None:
    """Run ``fn(*args, **kwargs)`` once, after a grace period (py_call_rcu.c)."""

_Entry = Tuple[int, Callable[..., Any], Tuple[Any, ...], Dict[str, Any]]

def _bind_callbacks(pending: Deque[_Entry], /) -> None: ...
def _running_callback() -> Optional[Callable[..., Any]]: ...
def _callbacks_taken() -> int: ...

_T_co = TypeVar("_T_co", covariant=True)

@final
class RcuGuard:
    """A read-side section on the calling thread, entered on creation.

    Not subclassable, copyable or picklable; bound to the creating thread.
    """

    def __init__(self) -> None: ...
    def __enter__(self) -> RcuGuard: ...
    # Returns None: the guard never swallows an exception.
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
        /,
    ) -> None: ...
    def unlock(self) -> None: ...
    @property
    def active(self) -> bool: ...

def read_lock() -> RcuGuard: ...
def read_lock_held() -> bool: ...

@final
class RcuRef(Generic[_T_co]):
    """A value read under a guard; not constructible from Python."""

    # Read-only, hence covariant: an RcuRef[bool] is an RcuRef[int].
    @property
    def value(self) -> _T_co: ...
    @property
    def valid(self) -> bool: ...

class RcuCellBase:
    """Storage and read path of RcuCell; None means empty.

    Deliberately not generic, so that `class RcuCell(RcuCellBase, Generic[T])`
    passes mypy --strict; the subclass re-declares get/raw_get/_exchange with
    T under `if TYPE_CHECKING:` (Any here lets those overrides narrow).
    """

    def __init__(self, value: Any = None) -> None: ...
    def get(self, guard: RcuGuard, /) -> Optional[RcuRef[Any]]: ...
    def raw_get(self) -> Any: ...
    def _exchange(self, new: Any, /) -> Any: ...
