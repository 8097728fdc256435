"""Patches to the moto emulator used by the sandbox. Each module exposes ``apply()``."""
