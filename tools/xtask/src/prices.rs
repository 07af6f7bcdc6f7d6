//! Published AWS prices, us-east-1, in one place (USD). Checked against the public price pages
//! in 2026; update here when they change.

/// Lambda, arm64: per request.
pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
/// Lambda, arm64: per GB-second (first 6 billion GB-s of the month).
pub const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
/// DynamoDB on-demand: per write request unit.
pub const DYNAMODB_WRITE_UNIT: f64 = 0.625 / 1e6;
/// DynamoDB global tables, on-demand: per replicated write request unit, billed in EVERY region
/// that holds a replica (an MRSC table of three replicas: three per write). AWS's "Understanding
/// Amazon DynamoDB billing for global tables" (developer guide, global-tables-billing.html):
/// "one rWRU per replica table is charged for each write up to 1KB" and "Replicated write units
/// (rWCUs and rWRUs) are priced the same as single-Region write units (WCUs and WRUs)".
/// Cross-Region data transfer is billed on top (per GB replicated; not counted here).
pub const DYNAMODB_REPLICATED_WRITE_UNIT: f64 = DYNAMODB_WRITE_UNIT;
/// DynamoDB on-demand: per read request unit.
pub const DYNAMODB_READ_UNIT: f64 = 0.125 / 1e6;
/// API Gateway HTTP API: per request (first 300 million of the month).
pub const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
/// Amazon Cognito user pools, Lite tier: per monthly active user beyond the free 10,000.
pub const COGNITO_LITE_MAU: f64 = 0.0055;
/// Amazon Cognito user pools, Essentials tier (the default for new pools): per monthly active
/// user beyond the free 10,000.
pub const COGNITO_ESSENTIALS_MAU: f64 = 0.015;

/// CloudWatch Logs, standard log class: per GB ingested.
pub const LOGS_INGESTED_GB: f64 = 0.50;
/// CloudWatch Logs: per GB-month stored (billed on the compressed size; counted here raw, an
/// upper bound).
pub const LOGS_STORED_GB_MONTH: f64 = 0.03;
/// CloudWatch alarms, standard resolution: per alarm metric per month (a metric-math alarm pays
/// for each metric it reads).
pub const ALARM_METRIC_MONTH: f64 = 0.10;
/// CloudWatch dashboards: per dashboard per month (beyond the three free ones of up to 50
/// metrics each; counted as paid).
pub const DASHBOARD_MONTH: f64 = 3.00;

/// What one million invocations cost: Lambda (requests and GB-seconds billed per 1 ms at
/// `memory_mb`), DynamoDB request units, API Gateway requests.
pub fn per_million(billed_ms: f64, memory_mb: f64, read_units: f64, write_units: f64) -> Cost {
    let gb_seconds = billed_ms.ceil() / 1000.0 * memory_mb / 1024.0;
    Cost {
        lambda: 1e6 * (LAMBDA_REQUEST + gb_seconds * LAMBDA_ARM_GB_SECOND),
        dynamodb: 1e6 * (read_units * DYNAMODB_READ_UNIT + write_units * DYNAMODB_WRITE_UNIT),
        api_gateway: 1e6 * HTTP_API_REQUEST,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    pub lambda: f64,
    pub dynamodb: f64,
    pub api_gateway: f64,
}

impl Cost {
    pub fn total(&self) -> f64 {
        self.lambda + self.dynamodb + self.api_gateway
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_one_ms_invocations_at_128_mb() {
        let c = per_million(0.4, 128.0, 1.0, 2.0);
        // 1 ms billed: 0.000125 GB-s each.
        assert!((c.lambda - (0.20 + 125.0 * LAMBDA_ARM_GB_SECOND)).abs() < 1e-9, "{c:?}");
        assert!((c.dynamodb - (0.125 + 1.25)).abs() < 1e-9, "{c:?}");
        assert!((c.api_gateway - 1.0).abs() < 1e-9);
    }
}
