"""Accounts, roles and sign-in for the whole consortium: ILL, the admin console and the portals use them.

A reader signs in with the account of the home library. Each member declares in the members file how
its readers are checked (``auth = { type = "local" | "ldap" | "saml" | "oidc" | "sip2", ... }``); one
module per protocol. Nothing here speaks HTTP or knows about loans: the pages and routers call
:mod:`accounts.service` and turn its :class:`~accounts.identity.SignInError` into a page or an answer.
"""
