"""
Link previews: a guarded HTTP fetch of a message's first link and the title and description of the page.

:mod:`~wampchat.previews.guard` decides which URLs and addresses may be
fetched (the guard against server-side request forgery),
:mod:`~wampchat.previews.fetch` fetches under it, :mod:`~wampchat.previews.html_meta`
reads the page and :mod:`~wampchat.previews.links` finds the link. The chat
service (:mod:`wampchat.chat.link_previews`) stores and announces the result.
"""
