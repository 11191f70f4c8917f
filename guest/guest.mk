# Freestanding guest images. Filled in by the guest work.
GUEST_ELFS :=
