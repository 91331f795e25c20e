"""A published survival function of the times to CPR, to defibrillation and to advanced care.

Larsen MP, Eisenberg MS, Cummins RO, Hallstrom AP. Predicting survival from out-of-hospital
cardiac arrest: a graphic model. Ann Emerg Med. 1993;22(11):1652-1658.
doi:10.1016/S0196-0644(05)81302-2. From 1,667 witnessed VF arrests in King County, Washington:

    survival = 67 % − 2.3 %/min to CPR − 1.1 %/min to defibrillation − 2.1 %/min to ACLS

every interval counted from the collapse. It is linear, so it is clipped at 0 (it reaches 0
after about 12 minutes without any intervention). It describes witnessed arrests in a shockable
rhythm: the survival it gives is that of such patients, a yardstick to compare policies with,
not the region's overall survival.
"""

import numpy as np

INTERCEPT = 0.67
PER_MIN_TO_CPR = 0.023
PER_MIN_TO_DEFIBRILLATION = 0.011
PER_MIN_TO_ACLS = 0.021
REFERENCE = (
    "Larsen MP, Eisenberg MS, Cummins RO, Hallstrom AP. Predicting survival from "
    "out-of-hospital cardiac arrest: a graphic model. Ann Emerg Med. 1993;22(11):1652-1658."
)


def survival_probability(
    cpr_s: np.ndarray, defibrillation_s: np.ndarray, acls_s: np.ndarray
) -> np.ndarray:
    """Larsen's model for arrays of seconds from the collapse; each later time is at least the
    earlier one (CPR no later than the shock, the shock no later than advanced care)."""
    cpr_min = np.asarray(cpr_s) / 60.0
    defib_min = np.maximum(np.asarray(defibrillation_s) / 60.0, cpr_min)
    acls_min = np.maximum(np.asarray(acls_s) / 60.0, cpr_min)
    survival = (
        INTERCEPT
        - PER_MIN_TO_CPR * cpr_min
        - PER_MIN_TO_DEFIBRILLATION * defib_min
        - PER_MIN_TO_ACLS * acls_min
    )
    return np.clip(survival, 0.0, 1.0)
