"""The deadline and the freeze, in one place.

- `rules`: when the grace period ends, and the key of each warning before it;
- `warnings`: the warnings planned for the current deadline (the writer);
- `guards`: whether a freelancer may submit proposals, a pure function of stored facts (the
  reader: guard 1 looks the warnings up by the same keys);
- `services`: every write about the deadline: the grace period starting when the notice was
  sent, extensions, the sweep that freezes or extends, the admin's extend and unfreeze.
"""
