"""The kiosk: the page a tablet at the front desk shows, and the JSON API it uses.

A kiosk is paired by opening its link (``/kiosk/<secret>``) once; after that the browser
carries the secret in a cookie, and a native app sends it as ``Authorization: Bearer``. A
kiosk can search its site's active hosts, check visitors in and out at its site and read its
own settings: nothing else, and nothing of another site or tenant (docs/front-desk.md).
"""
