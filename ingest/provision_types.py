"""The DfE placement category of each provision type: the placement rows of the DfE's DSG
deficit management plan template (and high needs benchmarking tool). The report's tables group
provision types by it and the serving file's `meta.provision_types` lookup publishes it, so BI
and the report add up the same way."""

DFE_PLACEMENT_CATEGORY = {
    "mainstream": "Mainstream schools or academies",
    "mainstream_rp_unit": "Resourced provision or SEN units",
    "mss": "Maintained special schools or special academies",
    "inmss": "NMSS or independent schools",
    "ap": "Hospital schools or alternative provision",
    "post16_fe": "Post 16",
    "post16_spi": "Post 16",
    "eotas": "Other",
    "early_years": "Other",
    "other": "Other",
    "none": "Other",
    "central": "Central (no placement)",
}
