"""Admin for volunteers, their devices, the 1-1-2 førstehjælper local areas, debriefs (the
follow-up calls) and consents, one module per job: ``common`` (paging, search and filters for
big tables), ``areas``, ``people`` (volunteers and devices: phone numbers, positions and push
tokens masked without the permission to see them, config.masking), ``records`` (debriefs and
consents) and ``users`` (deleting a user erases the volunteer).
"""

from volunteers.admin import areas, people, records, users
from volunteers.admin.common import EstimatedCountPaginator

users.register()

__all__ = ["EstimatedCountPaginator", "areas", "people", "records"]
