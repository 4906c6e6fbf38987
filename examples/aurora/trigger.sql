-- streambridge Aurora example: publish every stock change of the inventory table to AppSync.
--
-- Two dialects below; run the part for your engine. Both send the same JSON object to the function
-- (the keys handler.FIELDS reads): {"sku", "warehouse", "quantity", "version", "updated_at"}.
-- Replace the function ARN with the stack's InventoryFunctionArn output.
--
-- Before the trigger can invoke Lambda, the DB cluster needs (see README.md):
--   * the IAM role of the stack (output DbClusterLambdaRoleArn) associated with the cluster,
--   * a network path to the Lambda service (outbound HTTPS through a NAT gateway or a VPC endpoint).
--
-- A trigger fires for each row, inside the writing transaction, and the asynchronous invocation is not
-- undone by a ROLLBACK: subscribers can see a change that was never committed. Each row changed is one
-- Lambda invocation: mind bulk UPDATEs.


-- =====================================================================================================
-- Aurora MySQL (version 3, MySQL 8.0 compatible; version 2 has the same native function)
--
-- Native function lambda_async(lambda_function_ARN, JSON_payload), and "Invoking a Lambda function
-- within a trigger": a trigger cannot return a result set, so the result goes INTO a variable.
--   https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Integrating.NativeLambda.html
-- Giving the cluster access (IAM role as aws_default_lambda_role, or add-role-to-db-cluster):
--   https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Integrating.LambdaAccess.html
-- The older stored procedure CALL mysql.lambda_async(arn, payload) is deprecated, no longer supported
-- in version 2 and absent from version 3:
--   https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Integrating.ProcLambda.html
--
-- In version 3 the user whose statements fire the trigger needs the AWS_LAMBDA_ACCESS role, active in
-- the session (SET ROLE, or the activate_all_roles_on_login cluster parameter):
--   GRANT AWS_LAMBDA_ACCESS TO 'app'@'%';
-- =====================================================================================================

CREATE TABLE IF NOT EXISTS inventory (
  sku       VARCHAR(64) NOT NULL,
  warehouse VARCHAR(64) NOT NULL,
  quantity  INT         NOT NULL,
  version   INT         NOT NULL DEFAULT 1,  -- every UPDATE sets version = version + 1
  PRIMARY KEY (sku, warehouse)
);

DELIMITER //
CREATE TRIGGER inventory_published
  AFTER UPDATE ON inventory
  FOR EACH ROW
BEGIN
  IF NOT (OLD.quantity <=> NEW.quantity) THEN
    -- JSON_OBJECT escapes the values (building the payload with CONCAT does not).
    SELECT lambda_async(
      'arn:aws:lambda:us-east-1:123456789012:function:REPLACE-WITH-InventoryFunctionArn',
      JSON_OBJECT(
        'sku', NEW.sku,
        'warehouse', NEW.warehouse,
        'quantity', NEW.quantity,
        'version', NEW.version,
        'updated_at', DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%dT%H:%i:%sZ')
      )
    ) INTO @streambridge_invocation;
  END IF;
END //
DELIMITER ;

-- Try it:
--   UPDATE inventory SET quantity = quantity - 1, version = version + 1
--    WHERE sku = 'sku-1' AND warehouse = 'berlin';


-- =====================================================================================================
-- Aurora PostgreSQL (11.9 and higher)
--
-- aws_lambda.invoke(function_name aws_commons._lambda_function_arn_1, payload JSON,
--                   invocation_type TEXT DEFAULT 'RequestResponse', ...): 'Event' invokes
-- asynchronously and returns at once. With the aws_commons structure the third argument is the
-- invocation type (with a TEXT function name it would be the region).
--   https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/PostgreSQL-Lambda-functions.html
--   https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/PostgreSQL-Lambda-examples.html
-- Setup (network, IAM role with add-role-to-db-cluster --feature-name Lambda, the extension):
--   https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/PostgreSQL-Lambda.html
-- =====================================================================================================

CREATE EXTENSION IF NOT EXISTS aws_lambda CASCADE;  -- installs aws_commons too (rds_superuser)

CREATE TABLE IF NOT EXISTS inventory (
  sku       text    NOT NULL,
  warehouse text    NOT NULL,
  quantity  integer NOT NULL,
  version   integer NOT NULL DEFAULT 1,  -- every UPDATE sets version = version + 1
  PRIMARY KEY (sku, warehouse)
);

CREATE OR REPLACE FUNCTION inventory_publish() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM aws_lambda.invoke(
    aws_commons.create_lambda_function_arn(
      'arn:aws:lambda:us-east-1:123456789012:function:REPLACE-WITH-InventoryFunctionArn'
    ),
    json_build_object(
      'sku', NEW.sku,
      'warehouse', NEW.warehouse,
      'quantity', NEW.quantity,
      'version', NEW.version,
      'updated_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    )::json,
    'Event'
  );
  RETURN NEW;
END;
$$;

CREATE TRIGGER inventory_published
  AFTER UPDATE ON inventory
  FOR EACH ROW
  WHEN (OLD.quantity IS DISTINCT FROM NEW.quantity)
  EXECUTE FUNCTION inventory_publish();

-- Users other than the one that installed the extension need:
--   GRANT USAGE ON SCHEMA aws_lambda TO app;
--   GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA aws_lambda TO app;
