"""The lineup's errors: a stable code each (admitone/web/messages.py has their texts)."""

from admitone.errors import Conflict, NotFound


class StageNotFound(NotFound):
    code = "STAGE_NOT_FOUND"
    message = "No such stage at this event."


class ArtistNotFound(NotFound):
    code = "ARTIST_NOT_FOUND"
    message = "No such artist at this event."


class SlotNotFound(NotFound):
    code = "SLOT_NOT_FOUND"
    message = "No such slot."


class StageNameTaken(Conflict):
    code = "STAGE_NAME_TAKEN"
    message = "Another stage of this event already has this name."


class StageHasSlots(Conflict):
    code = "STAGE_HAS_SLOTS"
    message = "This stage has slots: move or delete them first."


class ArtistHasSlots(Conflict):
    code = "ARTIST_HAS_SLOTS"
    message = "This artist has slots: delete them first."


class SlotOverlap(Conflict):
    """A confirmed slot would share its stage with another confirmed one (changeovers
    included): ``details.other`` names the other slot, its artist and its times."""

    code = "SLOT_OVERLAP"
    message = "Another confirmed slot takes this stage at that time."


class SlotConfirmed(Conflict):
    code = "SLOT_CONFIRMED"
    message = "A confirmed slot is cancelled, not deleted, so those who starred it hear of it."
