"""How personal data leaves the platform."""


def mask_phone(phone: str | None) -> str | None:
    """13912345678 -> 139****5678: phone numbers are masked in every response and record."""
    if not phone:
        return phone
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
