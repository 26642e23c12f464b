"""A toy video vendor, installed as its own distribution (``vidgen-toy-vendor``) for the provider's tests."""
