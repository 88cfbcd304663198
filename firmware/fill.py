# Fill level from the distance a downward-looking sensor measures to the
# rubbish: the bin's geometry comes from the node's config.


def fill_pct(distance_mm, empty_mm, full_mm):
    """Percent full, 0..100, or None when there is no reading."""
    if distance_mm is None:
        return None
    span = empty_mm - full_mm
    pct = (empty_mm - distance_mm) * 100 / span
    if pct < 0:
        return 0.0
    if pct > 100:
        return 100.0
    return pct
