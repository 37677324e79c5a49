"""The realtime WebSocket gateway: a sans-io core (frames, connection, hub, router) and a picows binding."""

from palaver.adapters.gateway.auth import Authenticator
from palaver.adapters.gateway.codes import CloseCode, ErrorCode
from palaver.adapters.gateway.config import GatewayConfig
from palaver.adapters.gateway.params import InvalidParams
from palaver.adapters.gateway.router import Handler, RequestRouter, UnknownMethod
from palaver.adapters.gateway.server import GatewayServer
from palaver.adapters.gateway.topics import session_topic, user_topic

__all__ = [
    "Authenticator",
    "CloseCode",
    "ErrorCode",
    "GatewayConfig",
    "GatewayServer",
    "Handler",
    "InvalidParams",
    "RequestRouter",
    "UnknownMethod",
    "session_topic",
    "user_topic",
]
