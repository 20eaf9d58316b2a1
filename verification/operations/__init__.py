"""Operations: the admins' view of the whole program (issue 13).

Read-only: every figure comes from the database through the selectors here, one module per panel
(`now`, `funnel`, `capacity`, `fairness`), each computed with aggregate queries so that the number
of queries of a page does not grow with the number of cases or representatives. `views` renders
them (HTML, charts and CSV from the same `Table`s); `forms` parses the period and zone, and holds
the grace-policy form that edits offsets as typed lists.
"""
