"""carboy.channels: named groups, publish from anywhere, subscribe from WebSockets and SSE.

Example:
    >>> from carboy import Carboy
    >>> from carboy.channels import Channels
    >>> channels = Channels()  # settings.channels_url: memory:// by default, or redis://
    >>> app = Carboy()
    >>> app.install(channels)
"""

from carboy.channels._backends import ChannelBackend as ChannelBackend
from carboy.channels._backends import MemoryChannels as MemoryChannels
from carboy.channels._backends import RedisChannels as RedisChannels
from carboy.channels._channels import SLOW_CONSUMER as SLOW_CONSUMER
from carboy.channels._channels import Channels as Channels
from carboy.channels._channels import Message as Message
from carboy.channels._channels import SlowSubscriber as SlowSubscriber
from carboy.channels._channels import Subscription as Subscription
from carboy.channels._channels import backend_from_url as backend_from_url
from carboy.channels._channels import check_group as check_group

__all__ = [
    "SLOW_CONSUMER",
    "ChannelBackend",
    "Channels",
    "MemoryChannels",
    "Message",
    "RedisChannels",
    "SlowSubscriber",
    "Subscription",
    "backend_from_url",
    "check_group",
]
