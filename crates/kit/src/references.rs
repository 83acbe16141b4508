//! References to entities that other subgraphs own (`@key(fields: "id")`,
//! `resolvable: false`): a subgraph names one by its id and the router
//! fetches its fields from the owner. Defined once here for every subgraph
//! that points at them. (No doc comments on the types: async-graphql would
//! publish them as descriptions and the composed schema would change.)

use async_graphql::{ID, SimpleObject};

macro_rules! reference {
    ($name:ident) => {
        #[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
        #[graphql(unresolvable = "id")]
        pub struct $name {
            pub id: ID,
        }

        impl $name {
            pub fn of(id: impl ToString) -> Self {
                Self { id: ID(id.to_string()) }
            }
        }
    };
}

// users' User.
reference!(User);
// interviews' Interview.
reference!(Interview);
// applications' Application.
reference!(Application);
// contacts' Contact.
reference!(Contact);
