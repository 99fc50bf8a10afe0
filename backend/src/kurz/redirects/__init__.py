"""The redirect path: everything ``GET``/``HEAD /<slug>`` needs, kept small for speed.

``fast_path`` answers the common case in front of Quart, from ``cache`` (the (host, slug) ->
link cache and its LISTEN/NOTIFY invalidation); ``rules`` picks a link's target for a visit,
``headers`` says what every redirect answer carries and ``unknown_slugs`` slows down slug
enumeration. The ``redirects`` blueprint answers the rest with the same pieces.
"""
