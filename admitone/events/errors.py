"""Events and ticket types: the errors their services raise."""

from admitone.errors import Conflict, NotFound


class EventNotFound(NotFound):
    message = "No such event."


class TicketTypeNotFound(NotFound):
    message = "No such ticket type for this event."


class EventSlugTaken(Conflict):
    code = "SLUG_TAKEN"
    message = "Another event already uses this slug."


class EventHasSales(Conflict):
    code = "EVENT_HAS_SALES"
    message = "This event has orders or tickets on hold; cancel it instead."


class EventCancelled(Conflict):
    code = "EVENT_CANCELLED"
    message = "This event is cancelled and can no longer be changed."


class EventNotDraft(Conflict):
    code = "EVENT_NOT_DRAFT"
    message = "Only a draft event can be published."


class EventNotPublishable(Conflict):
    code = "EVENT_NOT_PUBLISHABLE"
    message = "The event cannot be published yet."


class EventAlreadyCancelled(Conflict):
    code = "EVENT_ALREADY_CANCELLED"
    message = "This event is already cancelled."


class CapacityBelowSold(Conflict):
    code = "CAPACITY_BELOW_SOLD"
    message = "The capacity cannot be lower than the tickets already sold or held."


class TicketTypeHasSales(Conflict):
    code = "TICKET_TYPE_HAS_SALES"
    message = "This ticket type has sales; deactivate it instead of deleting it."
