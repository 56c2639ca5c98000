"""One typed, frozen ``Settings`` object from an optional TOML file plus ``MAILBOT_*`` variables.

Resolution order for each key: embedded default < TOML file < environment. The keys and their
checks are declared once in :mod:`mailbot.config.sections` (pydantic models over the value kinds of
:mod:`mailbot.config.values`); :mod:`mailbot.config.load` reads the sources with pydantic-settings
and fills in the defaults derived from other keys.
"""

from mailbot.config.load import (
    CONFIG_ENV,
    ENV_PREFIX,
    MASTER_KEY_ENV,
    ConfigError,
    env_name,
    known_keys,
    load_settings,
)
from mailbot.config.sections import (
    AfterFetch,
    BackupSettings,
    DeadlineSettings,
    HoursMode,
    IdentitySettings,
    ImapSettings,
    ListenerSettings,
    ModelSettings,
    OrganisationSettings,
    PathSettings,
    PrivacySettings,
    ProcessingSettings,
    PromiseMode,
    RulesSettings,
    Security,
    Settings,
    SmtpSettings,
    StaffSettings,
    StorageSettings,
    TemplateSettings,
    WebSettings,
)

__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "MASTER_KEY_ENV",
    "AfterFetch",
    "BackupSettings",
    "ConfigError",
    "DeadlineSettings",
    "HoursMode",
    "IdentitySettings",
    "ImapSettings",
    "ListenerSettings",
    "ModelSettings",
    "OrganisationSettings",
    "PathSettings",
    "PrivacySettings",
    "ProcessingSettings",
    "PromiseMode",
    "RulesSettings",
    "Security",
    "Settings",
    "SmtpSettings",
    "StaffSettings",
    "StorageSettings",
    "TemplateSettings",
    "WebSettings",
    "env_name",
    "known_keys",
    "load_settings",
]
