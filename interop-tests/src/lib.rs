//! Harness for running `bgpd`, FRR and BIRD inside network namespaces.
