"""Reports that prove the pledges: compliance, satisfaction, workload and the monthly appraisal.

Read-only: they count the facts the ledger wrote as things happened (`ledger`), for a period of local
days and a scope (district, group, person). Each figure can be drilled into (`drill`): the same
conditions that counted it list the tickets behind it.
"""
