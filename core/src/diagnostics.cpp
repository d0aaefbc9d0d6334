// placeholder removed when the core lands
