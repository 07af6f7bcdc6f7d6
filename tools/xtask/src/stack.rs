//! The local stack both programs measure against: DynamoDB Local behind the counting proxy, the
//! table from `template.yaml`, and the provider emulator with our apps' configuration.

use std::collections::HashMap;

use emulator::Emulator;
use local_stack::counting_proxy::CountingProxy;
use local_stack::demo::Apps;
use local_stack::{DynamoDbLocal, Template};

pub struct Stack {
    pub dynamodb: DynamoDbLocal,
    pub proxy: CountingProxy,
    pub apps: Apps,
    pub emulator: Emulator,
    /// The emulator's base URL.
    pub graph: String,
}

impl Stack {
    /// Starts DynamoDB Local, the counting proxy before it and the emulator, and creates
    /// `table` as the template declares it.
    pub async fn start(template: &Template, table: &str) -> Result<Stack, String> {
        let step = |what: &'static str| move |e: String| format!("{what}: {e}");
        let dynamodb = DynamoDbLocal::start(0).await.map_err(|e| step("DynamoDB Local")(e.to_string()))?;
        let proxy =
            CountingProxy::start(dynamodb.endpoint()).await.map_err(|e| step("counting proxy")(e.to_string()))?;
        template.table().create(&dynamodb.client(), table).await.map_err(|e| step("create table")(e.to_string()))?;
        let apps = Apps::random();
        let emulator = Emulator::new(apps.emulator_config());
        let graph = emulator.spawn(0).await.map_err(|e| step("emulator")(e.to_string()))?;
        Ok(Stack { dynamodb, proxy, apps, emulator, graph })
    }

    /// A function's configuration on this stack, its DynamoDB requests through the proxy.
    pub fn vars(&self, table: &str) -> HashMap<String, String> {
        self.apps.stack_vars(table, "https://api.example.com", self.proxy.endpoint(), &self.graph)
    }
}
