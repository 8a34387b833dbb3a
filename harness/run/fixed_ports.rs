//! Programs whose port is written into them, as many assignments' are (9877, 3490,
//! 8080). A server that takes no `{port}` is found where it listens (it is alone in
//! the scenario's namespace); a client whose server port is hard-coded
//! (`--program-port client=9877`) is given the peer's listener on that port: the peer
//! socket it is started with binds the fixed port instead of a free one.

use crate::script::{AddrExpr, Op, Scenario, StepKind};
use std::collections::{BTreeMap, HashMap};

/// What `--program-port ROLE=...` says of a role's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramPort {
    /// Written into the program: a server gets it as its port, a client's server
    /// listens there.
    Fixed(u16),
    /// The server's own choice, with or without `{port}` in its command (a class that
    /// mixes both): it is found wherever it listens.
    Own,
}

/// The peer sockets that stand for a fixed-port program's server, with their port:
/// the socket of `start(client, l.local)`, or of `p` saved by `p = peer.getsockname(l)`
/// and passed as `start(client, p)`. Their bind to port 0 takes that port.
pub fn sockets_on_fixed_ports(
    scenario: &Scenario,
    ports: &BTreeMap<String, ProgramPort>,
) -> HashMap<String, u16> {
    let mut saved_from: HashMap<&str, &str> = HashMap::new();
    let mut out = HashMap::new();
    for step in &scenario.steps {
        let StepKind::Call { bind, op, .. } = &step.kind else {
            continue;
        };
        match (bind, op) {
            (Some(name), Op::GetSockName { sock }) => {
                saved_from.insert(&name.name, &sock.name);
            }
            (_, Op::Start { role, addr }) => {
                let Some(&ProgramPort::Fixed(port)) = ports.get(&role.name) else {
                    continue;
                };
                let sock = match addr {
                    Some(AddrExpr::LocalOf(s)) => Some(s.name.as_str()),
                    Some(AddrExpr::Saved(p)) => saved_from.get(p.name.as_str()).copied(),
                    _ => None,
                };
                if let Some(sock) = sock {
                    out.insert(sock.to_string(), port);
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether a server started without an address is found where it listens: its
/// command has no `{port}` and no fixed port was given, or `own` was.
pub fn chooses_its_own_port(command_template: &str, port: Option<ProgramPort>) -> bool {
    match port {
        Some(ProgramPort::Own) => true,
        Some(ProgramPort::Fixed(_)) => false,
        None => !command_template.contains("{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{parse, SourceFile};

    fn scenario(steps: &str) -> Scenario {
        let text = format!("+++\ntitle = \"t\"\n+++\n{steps}");
        parse(&SourceFile::new("t.scn", &text), "t").expect("parses")
    }

    #[test]
    fn a_fixed_port_clients_listener_is_found_through_a_saved_address_too() {
        let ports = BTreeMap::from([("client".to_string(), ProgramPort::Fixed(9877))]);
        let direct = scenario(
            "l = peer.socket()\npeer.bind(l, peer:0)\npeer.listen(l, 1)\ncl = start(client, l.local)\n",
        );
        assert_eq!(
            sockets_on_fixed_ports(&direct, &ports),
            HashMap::from([("l".to_string(), 9877)])
        );
        let saved = scenario(
            "l = peer.socket()\npeer.bind(l, peer:0)\np = peer.getsockname(l)\npeer.close(l)\ncl = start(client, p)\n",
        );
        assert_eq!(
            sockets_on_fixed_ports(&saved, &ports),
            HashMap::from([("l".to_string(), 9877)])
        );
        assert!(sockets_on_fixed_ports(&direct, &BTreeMap::new()).is_empty());
    }

    #[test]
    fn a_command_without_a_port_placeholder_chooses_its_own() {
        assert!(chooses_its_own_port("./server", None));
        assert!(!chooses_its_own_port("./server {port}", None));
        assert!(chooses_its_own_port(
            "./server {port}",
            Some(ProgramPort::Own)
        ));
        assert!(!chooses_its_own_port(
            "./server",
            Some(ProgramPort::Fixed(9877))
        ));
    }
}
