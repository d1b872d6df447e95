"""Who may run what: allow-lists of guilds, roles and users, decided by a pure function.

Ordinary commands are open (within the guild allow-list); deploy-capable and
admin commands are deny-by-default: with no allow-list configured, nobody
passes. A per-command allow-list narrows any command further.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import NamedTuple

from orchestrator.config import Settings
from orchestrator.discord.interactions import Interaction


class Access(StrEnum):
    """Who may run something. Deploy-capable and admin actions are deny-by-default."""

    EVERYONE = "everyone"
    DEPLOY = "deploy"
    ADMIN = "admin"


# The two records below are `NamedTuple`s rather than frozen dataclasses: every interaction
# decides with them, a cold container before its first answer, and a NamedTuple's class is
# built in about a tenth of a dataclass's time.
class AllowList(NamedTuple):
    guilds: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls, guilds: Iterable[str] = (), roles: Iterable[str] = (), users: Iterable[str] = ()
    ) -> AllowList:
        return cls(frozenset(guilds), frozenset(roles), frozenset(users))

    @property
    def names_members(self) -> bool:
        return bool(self.roles or self.users)

    def admits(self, guild_id: str | None, role_ids: frozenset[str], user_id: str | None) -> bool:
        if self.guilds and guild_id not in self.guilds:
            return False
        if not self.names_members:
            return True
        return (user_id is not None and user_id in self.users) or bool(role_ids & self.roles)


class AccessPolicy(NamedTuple):
    guilds: frozenset[str]
    admin: AllowList
    deploy: AllowList
    commands: Mapping[str, AllowList]

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessPolicy:
        return cls(
            guilds=frozenset() if settings.any_guild else frozenset(settings.discord_guild_ids),
            admin=AllowList.of(
                roles=settings.discord_admin_role_ids, users=settings.discord_admin_user_ids
            ),
            deploy=AllowList.of(
                roles=settings.discord_deploy_role_ids, users=settings.discord_deploy_user_ids
            ),
            commands={
                path: AllowList.of(
                    spec.get("guilds", ()), spec.get("roles", ()), spec.get("users", ())
                )
                for path, spec in settings.discord_command_access.items()
            },
        )

    def is_admin(self, interaction: Interaction) -> bool:
        return self.admin.names_members and self.admin.admits(
            interaction.guild_id, interaction.role_ids, interaction.user_id
        )

    def admits(
        self, access: Access, governed_by: Sequence[Sequence[str]], interaction: Interaction
    ) -> bool:
        """The one decision for anything a user presses or runs: `access` (the role it
        needs) and the per-command allow-list of every command in `governed_by` (a button
        is governed by the commands whose messages carry it)."""
        return bool(governed_by) and all(
            self.allows(access, path, interaction) for path in governed_by
        )

    def allows(self, access: Access, path: Sequence[str], interaction: Interaction) -> bool:
        guild, roles, user = interaction.guild_id, interaction.role_ids, interaction.user_id
        if self.guilds and guild not in self.guilds:
            return False
        for key in (" ".join(path), path[0] if path else ""):
            specific = self.commands.get(key)
            if specific is not None:
                if not specific.admits(guild, roles, user):
                    return False
                break
        if access is Access.EVERYONE:
            return True
        if self.is_admin(interaction):
            return True
        if access is Access.DEPLOY:
            return self.deploy.names_members and self.deploy.admits(guild, roles, user)
        return False
