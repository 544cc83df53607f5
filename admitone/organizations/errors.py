from admitone.errors import Conflict, NotFound, PermissionDenied


class SlugTaken(Conflict):
    code = "SLUG_TAKEN"
    message = "This slug is already taken."


class AlreadyMember(Conflict):
    code = "ALREADY_MEMBER"
    message = "This user is already a member of the organization."


class LastOwner(Conflict):
    code = "LAST_OWNER"
    message = "An organization must keep at least one owner."


class OwnerRequired(PermissionDenied):
    code = "OWNER_REQUIRED"
    message = "Only an owner can grant, change or remove the owner role."


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"
    message = "No account uses this e-mail; ask the person to register first."


class PlatformAdminRequired(PermissionDenied):
    code = "PLATFORM_ADMIN_REQUIRED"
    message = "Only a platform admin can do this."


class OrganizationNotFound(NotFound):
    message = "No such organization."
