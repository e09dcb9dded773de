"""carboy.auth: sessions, users, sign-in pages, throttling, two-factor, permissions, tokens.

Example:
    >>> from carboy import Carboy
    >>> from carboy.auth import Auth
    >>> app = Carboy()
    >>> app.install(Auth())
"""

from carboy.auth._authentication import AuthenticationMiddleware as AuthenticationMiddleware
from carboy.auth._authentication import SessionBackend as SessionBackend
from carboy.auth._has_perm import ObjectPermissionHook as ObjectPermissionHook
from carboy.auth._login import login as login
from carboy.auth._login import logout as logout
from carboy.auth._module import Auth as Auth
from carboy.auth._page_config import PagesConfig as PagesConfig
from carboy.auth._protocols import AuthBackend as AuthBackend
from carboy.auth._protocols import AuthUser as AuthUser
from carboy.auth._protocols import EmailUser as EmailUser
from carboy.auth._protocols import UserStore as UserStore
from carboy.auth._throttling import LoginAttempt as LoginAttempt
from carboy.auth._throttling import LoginThrottle as LoginThrottle
from carboy.auth.csrf import CSRFConfig as CSRFConfig
from carboy.auth.csrf import CSRFFailure as CSRFFailure
from carboy.auth.csrf import CSRFMiddleware as CSRFMiddleware
from carboy.auth.csrf import csrf_input as csrf_input
from carboy.auth.csrf import csrf_token as csrf_token
from carboy.auth.csrf import rotate_csrf_token as rotate_csrf_token
from carboy.auth.guards import Guard as Guard
from carboy.auth.guards import login_required as login_required
from carboy.auth.guards import permission_required as permission_required
from carboy.auth.guards import safe_next as safe_next
from carboy.auth.guards import staff_required as staff_required
from carboy.auth.jwt import JWTBackend as JWTBackend
from carboy.auth.jwt import JWTCredentials as JWTCredentials
from carboy.auth.jwt import JWTKey as JWTKey
from carboy.auth.jwt import encode_jwt as encode_jwt
from carboy.auth.models import Group as Group
from carboy.auth.models import Permission as Permission
from carboy.auth.models import User as User
from carboy.auth.models import UserMixin as UserMixin
from carboy.auth.passwords import CommonPassword as CommonPassword
from carboy.auth.passwords import MinimumLength as MinimumLength
from carboy.auth.passwords import NumericPassword as NumericPassword
from carboy.auth.passwords import PasswordHasher as PasswordHasher
from carboy.auth.passwords import PasswordInvalid as PasswordInvalid
from carboy.auth.passwords import PasswordValidator as PasswordValidator
from carboy.auth.passwords import UserAttributeSimilarity as UserAttributeSimilarity
from carboy.auth.passwords import default_validators as default_validators
from carboy.auth.passwords import validate_password as validate_password
from carboy.auth.permissions import aget_permission as aget_permission
from carboy.auth.permissions import aload_permissions as aload_permissions
from carboy.auth.permissions import aupdate_permissions as aupdate_permissions
from carboy.auth.permissions import get_permission as get_permission
from carboy.auth.permissions import load_permissions as load_permissions
from carboy.auth.permissions import update_permissions as update_permissions
from carboy.auth.sessions import CookieStore as CookieStore
from carboy.auth.sessions import DatabaseStore as DatabaseStore
from carboy.auth.sessions import Flash as Flash
from carboy.auth.sessions import MemoryStore as MemoryStore
from carboy.auth.sessions import RedisStore as RedisStore
from carboy.auth.sessions import Session as Session
from carboy.auth.sessions import SessionConfig as SessionConfig
from carboy.auth.sessions import SessionMiddleware as SessionMiddleware
from carboy.auth.sessions import SessionTooLarge as SessionTooLarge
from carboy.auth.sessions import flash as flash
from carboy.auth.sessions import get_flashed as get_flashed
from carboy.auth.signing import BadSignature as BadSignature
from carboy.auth.signing import SignatureExpired as SignatureExpired
from carboy.auth.signing import Signer as Signer
from carboy.auth.tokens import AccessToken as AccessToken
from carboy.auth.tokens import NewToken as NewToken
from carboy.auth.tokens import TokenBackend as TokenBackend
from carboy.auth.tokens import TokenCredentials as TokenCredentials
from carboy.auth.totp import Enrolment as Enrolment
from carboy.auth.totp import RecoveryCode as RecoveryCode
from carboy.auth.totp import TOTPDevice as TOTPDevice
from carboy.auth.totp import TwoFactor as TwoFactor
from carboy.auth.users import MemoryUser as MemoryUser
from carboy.auth.users import MemoryUserStore as MemoryUserStore
from carboy.auth.users import SQLUserStore as SQLUserStore
from carboy.auth.users import UserExists as UserExists

__all__ = [
    "AccessToken",
    "Auth",
    "AuthBackend",
    "AuthUser",
    "AuthenticationMiddleware",
    "BadSignature",
    "CSRFConfig",
    "CSRFFailure",
    "CSRFMiddleware",
    "CommonPassword",
    "CookieStore",
    "DatabaseStore",
    "EmailUser",
    "Enrolment",
    "Flash",
    "Group",
    "Guard",
    "JWTBackend",
    "JWTCredentials",
    "JWTKey",
    "LoginAttempt",
    "LoginThrottle",
    "MemoryStore",
    "MemoryUser",
    "MemoryUserStore",
    "MinimumLength",
    "NewToken",
    "NumericPassword",
    "ObjectPermissionHook",
    "PagesConfig",
    "PasswordHasher",
    "PasswordInvalid",
    "PasswordValidator",
    "Permission",
    "RecoveryCode",
    "RedisStore",
    "SQLUserStore",
    "Session",
    "SessionBackend",
    "SessionConfig",
    "SessionMiddleware",
    "SessionTooLarge",
    "SignatureExpired",
    "Signer",
    "TOTPDevice",
    "TokenBackend",
    "TokenCredentials",
    "TwoFactor",
    "User",
    "UserAttributeSimilarity",
    "UserExists",
    "UserMixin",
    "UserStore",
    "aget_permission",
    "aload_permissions",
    "aupdate_permissions",
    "csrf_input",
    "csrf_token",
    "default_validators",
    "encode_jwt",
    "flash",
    "get_flashed",
    "get_permission",
    "load_permissions",
    "login",
    "login_required",
    "logout",
    "permission_required",
    "rotate_csrf_token",
    "safe_next",
    "staff_required",
    "update_permissions",
    "validate_password",
]
