//! Validation of `[[routes]]`: the routes the config file originates. A
//! submodule of `validate`, sharing its `Validator`.

use super::*;

impl Validator<'_> {
    pub(super) fn routes(&mut self, raw: &[Spanned<RawRoute>]) -> Option<Vec<StaticRoute>> {
        let mut seen = HashMap::new();
        let mut routes = Some(Vec::with_capacity(raw.len()));
        for (index, item) in raw.iter().enumerate() {
            let scope = Scope { name: "routes", index: Some(index), span: item.span() };
            let route = self.route(&scope, item.get_ref(), &mut seen);
            match (route, routes.as_mut()) {
                (Some(route), Some(list)) => list.push(route),
                _ => routes = None,
            }
        }
        routes
    }

    fn route(
        &mut self,
        scope: &Scope,
        r: &RawRoute,
        seen: &mut HashMap<ipnet::IpNet, Range<usize>>,
    ) -> Option<StaticRoute> {
        let prefix = self.required(scope, "prefix", &r.prefix).and_then(|v| {
            let prefix = self.check(scope, "prefix", v, |s| parse_prefix(s))?;
            self.unique(seen, prefix, v.span(), scope, "prefix", v.get_ref()).then_some(prefix)
        });
        let next_hop = self.optional(scope, "next_hop", &r.next_hop, None, |s| {
            let address = parse_unicast_address(s)?;
            if let Some(prefix) = prefix
                && prefix.addr().is_ipv4() != address.is_ipv4()
            {
                return Err(Problem::NextHopFamily { prefix });
            }
            Ok(Some(match address {
                IpAddr::V4(v4) => NextHop::V4(v4),
                IpAddr::V6(global) => NextHop::V6 { global, link_local: None },
            }))
        });
        let origin = self.optional(scope, "origin", &r.origin, Origin::Igp, |s| parse_origin(s));
        let communities = self.optional_list(scope, "communities", &r.communities, |s| {
            Community::from_str(s).map_err(Problem::Community)
        });
        let large_communities =
            self.optional_list(scope, "large_communities", &r.large_communities, |s| {
                LargeCommunity::from_str(s).map_err(Problem::Community)
            });
        let extended_communities = self.optional_list(
            scope,
            "extended_communities",
            &r.extended_communities,
            parse_extended_community,
        );
        let local_pref =
            self.integer(scope, "local_pref", &r.local_pref, (0, u32::MAX), DEFAULT_LOCAL_PREF);
        let med =
            self.optional(scope, "med", &r.med, None, |m| in_range(*m, 0, u32::MAX).map(Some));
        let as_path_prepend =
            self.integer(scope, "as_path_prepend", &r.as_path_prepend, (0, MAX_AS_PATH_PREPEND), 0);
        Some(StaticRoute {
            prefix: prefix?,
            next_hop: next_hop?,
            origin: origin?,
            communities: communities?,
            large_communities: large_communities?,
            extended_communities: extended_communities?,
            local_pref: local_pref?,
            med: med?,
            as_path_prepend: as_path_prepend?,
        })
    }
}
