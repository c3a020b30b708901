//! Server-side defaulting that controllers read back: a Service's cluster IPs, IP families and
//! family policy, node ports, traffic policies (what the Service REST storage and its defaulters
//! fill in), and a Namespace's `kubernetes.io/metadata.name` label and phase.
//!
//! Allocation is sequential from 10.96.0.0/12 (IPv4), fd00:10:96::/112 (IPv6) and ports
//! 30000-32767, never reused; values the client set are kept, and an update that leaves an
//! allocated value out gets the old one back, as upstream does.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::{Map, Value, json};

/// Allocation state and the cluster's IP families (`["IPv4"]`, or both for dual-stack).
#[derive(Debug)]
pub(crate) struct Defaults {
    families: Vec<String>,
    next_v4: u32,
    next_v6: u128,
    next_port: u16,
}

impl Defaults {
    pub(crate) fn new(families: Vec<String>) -> Self {
        Defaults { families, next_v4: 1, next_v6: 1, next_port: 30_000 }
    }

    fn ip(&mut self, family: &str) -> String {
        if family == "IPv6" {
            let base = u128::from(Ipv6Addr::new(0xfd00, 0x10, 0x96, 0, 0, 0, 0, 0));
            self.next_v6 += 1;
            Ipv6Addr::from(base + (self.next_v6 - 1)).to_string()
        } else {
            let base = u32::from(Ipv4Addr::new(10, 96, 0, 0));
            self.next_v4 += 1;
            Ipv4Addr::from(base + (self.next_v4 - 1)).to_string()
        }
    }

    fn port(&mut self) -> u16 {
        let p = self.next_port;
        self.next_port = if p >= 32_767 { 30_000 } else { p + 1 };
        p
    }

    /// Fills in server defaults on a write of `kind` in the core group.
    pub(crate) fn apply(&mut self, kind: &str, old: Option<&Value>, new: &mut Value) {
        match kind {
            "Service" => self.service(old, new),
            "Namespace" => namespace(new),
            _ => {}
        }
    }

    fn service(&mut self, old: Option<&Value>, new: &mut Value) {
        let old_spec = old.map(|o| o["spec"].clone()).unwrap_or(Value::Null);
        let Some(obj) = new.as_object_mut() else { return };
        let spec = obj.entry("spec").or_insert_with(|| json!({}));
        let Some(spec) = spec.as_object_mut() else { return };
        let ty = spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP").to_owned();
        spec.insert("type".to_owned(), json!(ty));
        default_str(spec, "sessionAffinity", "None");
        if ty == "ExternalName" {
            for k in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
                spec.remove(k);
            }
            return;
        }
        default_str(spec, "internalTrafficPolicy", "Cluster");
        for k in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            if spec.get(k).is_none_or(is_empty)
                && let Some(v) = old_spec.get(k).filter(|v| !is_empty(v))
            {
                spec.insert(k.to_owned(), v.clone());
            }
        }
        let policy =
            spec.get("ipFamilyPolicy").and_then(Value::as_str).unwrap_or("SingleStack").to_owned();
        spec.insert("ipFamilyPolicy".to_owned(), json!(policy));
        let mut families: Vec<String> = spec
            .get("ipFamilies")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        if families.is_empty() {
            families.push(self.families.first().cloned().unwrap_or_else(|| "IPv4".to_owned()));
        }
        if policy != "SingleStack" && families.len() == 1 && self.families.len() > 1 {
            let other = self.families.iter().find(|f| **f != families[0]).cloned();
            families.extend(other);
        }
        spec.insert("ipFamilies".to_owned(), json!(families));
        let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
        if headless {
            spec.insert("clusterIPs".to_owned(), json!(["None"]));
        } else {
            let mut ips: Vec<String> = spec
                .get("clusterIPs")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            if ips.is_empty()
                && let Some(ip) =
                    spec.get("clusterIP").and_then(Value::as_str).filter(|s| !s.is_empty())
            {
                ips.push(ip.to_owned());
            }
            while ips.len() < families.len() {
                let fam = families[ips.len()].clone();
                ips.push(self.ip(&fam));
            }
            spec.insert("clusterIP".to_owned(), json!(ips[0]));
            spec.insert("clusterIPs".to_owned(), json!(ips));
        }
        let node_ports = ty == "NodePort"
            || ty == "LoadBalancer"
                && spec.get("allocateLoadBalancerNodePorts").and_then(Value::as_bool)
                    != Some(false);
        if ty == "LoadBalancer" {
            default_bool(spec, "allocateLoadBalancerNodePorts", true);
        }
        if ty == "LoadBalancer" || ty == "NodePort" {
            default_str(spec, "externalTrafficPolicy", "Cluster");
        } else {
            spec.remove("externalTrafficPolicy");
        }
        let old_ports = old_spec["ports"].as_array().cloned().unwrap_or_default();
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                default_str(p, "protocol", "TCP");
                if p.get("targetPort").is_none_or(Value::is_null) {
                    let port = p.get("port").cloned().unwrap_or(Value::Null);
                    p.insert("targetPort".to_owned(), port);
                }
                if !node_ports {
                    if ty == "ClusterIP" {
                        p.remove("nodePort");
                    }
                    continue;
                }
                if p.get("nodePort").is_none_or(is_empty) {
                    let previous = old_ports
                        .iter()
                        .find(|o| {
                            o["port"] == p["port"]
                                && o["protocol"].as_str().unwrap_or("TCP")
                                    == p["protocol"].as_str().unwrap_or("TCP")
                        })
                        .map(|o| o["nodePort"].clone())
                        .filter(|v| !is_empty(v));
                    let np = previous.unwrap_or_else(|| json!(self.port()));
                    p.insert("nodePort".to_owned(), np);
                }
            }
        }
        let local = ty == "LoadBalancer"
            && spec.get("externalTrafficPolicy").and_then(Value::as_str) == Some("Local");
        if local {
            if spec.get("healthCheckNodePort").is_none_or(is_empty) {
                let hc = old_spec
                    .get("healthCheckNodePort")
                    .filter(|v| !is_empty(v))
                    .cloned()
                    .unwrap_or_else(|| json!(self.port()));
                spec.insert("healthCheckNodePort".to_owned(), hc);
            }
        } else {
            spec.remove("healthCheckNodePort");
        }
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Number(n) => n.as_u64() == Some(0),
        _ => false,
    }
}

fn default_str(m: &mut Map<String, Value>, k: &str, v: &str) {
    if m.get(k).is_none_or(is_empty) {
        m.insert(k.to_owned(), json!(v));
    }
}

fn default_bool(m: &mut Map<String, Value>, k: &str, v: bool) {
    if m.get(k).is_none_or(Value::is_null) {
        m.insert(k.to_owned(), json!(v));
    }
}

fn namespace(new: &mut Value) {
    let name = new["metadata"]["name"].clone();
    if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            l.insert("kubernetes.io/metadata.name".to_owned(), name);
        }
    }
    if let Some(obj) = new.as_object_mut() {
        let spec = obj.entry("spec").or_insert_with(|| json!({}));
        if let Some(s) = spec.as_object_mut() {
            s.entry("finalizers").or_insert_with(|| json!(["kubernetes"]));
        }
        let status = obj.entry("status").or_insert_with(|| json!({}));
        if let Some(s) = status.as_object_mut() {
            s.entry("phase").or_insert_with(|| json!("Active"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb(spec: Value) -> Value {
        json!({"metadata": {"name": "web"}, "spec": spec})
    }

    #[test]
    fn load_balancer_defaults() {
        let mut d = Defaults::new(vec!["IPv4".into()]);
        let mut s = lb(json!({"type": "LoadBalancer", "ports": [{"port": 80}]}));
        d.apply("Service", None, &mut s);
        let spec = &s["spec"];
        assert_eq!(spec["clusterIP"], "10.96.0.1");
        assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
        assert_eq!(spec["externalTrafficPolicy"], "Cluster");
        assert_eq!(
            spec["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30000})
        );
        // An update that leaves allocated values out gets them back.
        let mut again = lb(
            json!({"type": "LoadBalancer", "ports": [{"port": 80}], "externalTrafficPolicy": "Local"}),
        );
        d.apply("Service", Some(&s), &mut again);
        assert_eq!(again["spec"]["clusterIP"], "10.96.0.1");
        assert_eq!(again["spec"]["ports"][0]["nodePort"], 30000);
        assert_eq!(again["spec"]["healthCheckNodePort"], 30001);
    }

    #[test]
    fn dual_stack_cluster() {
        let mut d = Defaults::new(vec!["IPv4".into(), "IPv6".into()]);
        let mut s = lb(json!({"type": "LoadBalancer", "ipFamilyPolicy": "PreferDualStack"}));
        d.apply("Service", None, &mut s);
        assert_eq!(s["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
        assert_eq!(s["spec"]["clusterIPs"], json!(["10.96.0.1", "fd00:10:96::1"]));
        let mut v6 = lb(json!({"ipFamilies": ["IPv6"]}));
        d.apply("Service", None, &mut v6);
        assert_eq!(v6["spec"]["clusterIPs"], json!(["fd00:10:96::2"]));
    }

    #[test]
    fn namespace_label() {
        let mut d = Defaults::new(vec!["IPv4".into()]);
        let mut ns = json!({"metadata": {"name": "team-a"}});
        d.apply("Namespace", None, &mut ns);
        assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "team-a");
        assert_eq!(ns["status"]["phase"], "Active");
    }
}
