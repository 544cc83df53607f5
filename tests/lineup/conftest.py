from tests.notifications.conftest import smtp_server

__all__ = ["smtp_server"]
