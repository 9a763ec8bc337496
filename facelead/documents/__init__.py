"""What facelead writes for people to read: the candidate sheet (``sheet``) and a case's
disclosure packet (``disclosure``); each view and export is authorized and audited."""
