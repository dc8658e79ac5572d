# Who may change this account from GitHub Actions, and how: OpenID Connect, never long-lived keys. A
# workflow job asks GitHub for a token (permissions: id-token: write) and exchanges it for one of these roles;
# each role trusts only the token's `sub` claim of the one kind of job it exists for:
#
#   <env> plan              jobs of GitHub environment <env>-plan (pull requests, once a required reviewer
#                           approved the job) and <env>-release-plan (main only: the plan an apply's reviewers
#                           approve): terraform plan of infra/stack in <env>, read-only, no data
#   <env> gate              jobs of GitHub environment <env>-gate (pull requests that change deploy/<env>.yaml,
#                           once approved, gate.yml): read <env>'s corrections, shadow answers and what serves
#   <env> apply             jobs of GitHub environment <env> (main only): terraform apply of infra/stack in
#                           <env>, the serving image push, `complaints --env <env> release apply`, `make smoke`
#   <env> retrain           main (scheduled or dispatched runs): read <env>'s corrections and models, read
#                           the Hugging Face Hub token
#
# No role trusts a pull request's own subject (repo:<repo>:pull_request): a pull request runs the workflow
# files it carries, so any branch could otherwise assume the role. A job gets an environment's subject only
# after that environment's protection rules pass (infra/bootstrap/README.md lists them).
#
# The roles live under the path /github-actions/ and are named github-complaints-*, so that no pattern the
# apply roles may manage (role/complaints-<env>-*) ever matches one of them. Every role an apply role creates
# carries the environment's permissions boundary (stack_role_boundary, below).

locals {
  environments = var.environments == null ? [var.environment] : var.environments
  partition    = data.aws_partition.current.partition
  account_id   = data.aws_caller_identity.current.account_id

  github_oidc_provider_arn = "arn:${local.partition}:iam::${local.account_id}:oidc-provider/token.actions.githubusercontent.com"
  roles_path               = "/github-actions/"

  # ARN prefixes of what infra/stack makes in this account and region (every name starts complaints-<env>-)
  dynamodb_arn   = "arn:${local.partition}:dynamodb:${var.region}:${local.account_id}"
  lambda_arn     = "arn:${local.partition}:lambda:${var.region}:${local.account_id}"
  states_arn     = "arn:${local.partition}:states:${var.region}:${local.account_id}"
  logs_arn       = "arn:${local.partition}:logs:${var.region}:${local.account_id}"
  events_arn     = "arn:${local.partition}:events:${var.region}:${local.account_id}"
  sqs_arn        = "arn:${local.partition}:sqs:${var.region}:${local.account_id}"
  sns_arn        = "arn:${local.partition}:sns:${var.region}:${local.account_id}"
  cloudwatch_arn = "arn:${local.partition}:cloudwatch:${var.region}:${local.account_id}"
  kms_arn        = "arn:${local.partition}:kms:${var.region}:${local.account_id}"
  iam_arn        = "arn:${local.partition}:iam::${local.account_id}"
  apigateway_arn = "arn:${local.partition}:apigateway:${var.region}:"
  s3_arn         = "arn:${local.partition}:s3:::"
  ecs_arn        = "arn:${local.partition}:ecs:${var.region}:${local.account_id}"
  efs_arn        = "arn:${local.partition}:elasticfilesystem:${var.region}:${local.account_id}"
  elb_arn        = "arn:${local.partition}:elasticloadbalancing:${var.region}:${local.account_id}"
  wafv2_arn      = "arn:${local.partition}:wafv2:${var.region}:${local.account_id}:regional"
  backup_arn     = "arn:${local.partition}:backup:${var.region}:${local.account_id}"
  ec2_arn        = "arn:${local.partition}:ec2:${var.region}:${local.account_id}"
  cognito_arn    = "arn:${local.partition}:cognito-idp:${var.region}:${local.account_id}"
  secrets_arn    = "arn:${local.partition}:secretsmanager:${var.region}:${local.account_id}"
}

# -- the identity provider: GitHub's tokens, for AWS STS ---------------------------------------------------

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
  # AWS validates GitHub's tokens against its own trusted CAs and ignores these; the API still asks for one.
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
}

# -- trust: which job's token may become which role -------------------------------------------------------

# A pull request's plan and gate jobs run the workflow files of the pull request itself: the roles trust them
# only as jobs of a GitHub environment whose required reviewers approved that run (<env>-plan, <env>-gate).
data "aws_iam_policy_document" "plan_trust" {
  #checkov:skip=CKV_AWS_358:checkov matches the repository only as a literal owner/name, not var.github_repository; the sub is one exact value per role (StringEquals, no wildcard, the variable validated), which tests/test_infra.py asserts.
  for_each = toset(local.environments)

  statement {
    sid     = "JobsOfTheGitHubEnvironmentPlan"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values = [
        "repo:${var.github_repository}:environment:${each.key}-plan",
        "repo:${var.github_repository}:environment:${each.key}-release-plan",
      ]
    }
  }
}

data "aws_iam_policy_document" "apply_trust" {
  #checkov:skip=CKV_AWS_358:checkov matches the repository only as a literal owner/name, not var.github_repository; the sub is one exact value per role (StringEquals, no wildcard, the variable validated), which tests/test_infra.py asserts.
  for_each = toset(local.environments)

  statement {
    sid     = "JobsOfTheGitHubEnvironmentApply"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    # A job that names `environment: <env>` gets this sub, and only after that environment's protection
    # rules (required reviewers, branch policy) let it run.
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${each.key}"]
    }
  }
}

data "aws_iam_policy_document" "retrain_trust" {
  #checkov:skip=CKV_AWS_358:checkov matches the repository only as a literal owner/name, not var.github_repository; the sub is one exact value per role (StringEquals, no wildcard, the variable validated), which tests/test_infra.py asserts.
  statement {
    sid     = "MainRetrains"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:ref:refs/heads/main"]
    }
  }
}

data "aws_iam_policy_document" "gate_trust" {
  #checkov:skip=CKV_AWS_358:checkov matches the repository only as a literal owner/name, not var.github_repository; the sub is one exact value per role (StringEquals, no wildcard, the variable validated), which tests/test_infra.py asserts.
  for_each = toset(local.environments)

  statement {
    sid     = "JobsOfTheGitHubEnvironmentGate"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${each.key}-gate"]
    }
  }
}

# -- the roles --------------------------------------------------------------------------------------------

resource "aws_iam_role" "plan" {
  for_each = toset(local.environments)

  name                 = "github-complaints-${each.key}-plan"
  path                 = local.roles_path
  description          = "GitHub Actions, ${var.github_repository} environment ${each.key}-plan: terraform plan of infra/stack in ${each.key} on a pull request (read-only)"
  assume_role_policy   = data.aws_iam_policy_document.plan_trust[each.key].json
  max_session_duration = 3600
  depends_on           = [aws_iam_openid_connect_provider.github]
}

resource "aws_iam_role" "apply" {
  for_each = toset(local.environments)

  name                 = "github-complaints-${each.key}-apply"
  path                 = local.roles_path
  description          = "GitHub Actions, ${var.github_repository} environment ${each.key}: terraform apply of infra/stack, image push, release apply, smoke test"
  assume_role_policy   = data.aws_iam_policy_document.apply_trust[each.key].json
  max_session_duration = 3600
  depends_on           = [aws_iam_openid_connect_provider.github]
}

resource "aws_iam_role" "retrain" {
  for_each = toset(local.environments)

  name                 = "github-complaints-${each.key}-retrain"
  path                 = local.roles_path
  description          = "GitHub Actions, ${var.github_repository} main: retrain ${each.key}'s models on its corrections (read-only store, Hub token)"
  assume_role_policy   = data.aws_iam_policy_document.retrain_trust.json
  max_session_duration = 3600
  depends_on           = [aws_iam_openid_connect_provider.github]
}

resource "aws_iam_role" "gate" {
  for_each = toset(local.environments)

  name                 = "github-complaints-${each.key}-gate"
  path                 = local.roles_path
  description          = "GitHub Actions, ${var.github_repository} environment ${each.key}-gate: gate report for ${each.key}'s manifest on a pull request (read-only store)"
  assume_role_policy   = data.aws_iam_policy_document.gate_trust[each.key].json
  max_session_duration = 3600
  depends_on           = [aws_iam_openid_connect_provider.github]
}

# -- the Hugging Face Hub token: the registry's credential, read by retrain only, one per environment -----

resource "aws_secretsmanager_secret" "hub_token" {
  #checkov:skip=CKV2_AWS_57:A Hugging Face access token is issued in the Hub's settings, not by an AWS API, so no rotation Lambda can rotate it; a person replaces it (put-secret-value) on the bank's credential schedule.
  for_each = toset(local.environments)

  name                    = "complaints-${each.key}/hugging-face-token" # the name the retrain workflow reads
  description             = "Hugging Face Hub token of the model registry (HF_TOKEN of the retrain workflow). Its value is put by a person with put-secret-value, never by Terraform."
  kms_key_id              = aws_kms_key.bootstrap.arn
  recovery_window_in_days = 30
}

# -- plan: read-only -------------------------------------------------------------------------------------
# Reads one environment's configuration, never its data: no item, object (except its state), secret value or
# message is readable. Writes nothing, not even the state lock: both plans run with -lock=false, and a lock
# that a pull request's job could take would hold up every apply. The state holds no generated secret
# (modules budibase and ops_api put them outside Terraform) but Budibase's OIDC client secret, which Cognito
# returns with the client to any refresh.

data "aws_iam_policy_document" "plan" {
  for_each = toset(local.environments)

  statement {
    sid       = "ListTheStateBucket"
    actions   = ["s3:ListBucket"]
    resources = [module.state_bucket.arn]
  }

  statement {
    sid       = "ReadTheEnvironmentsState"
    actions   = ["s3:GetObject"]
    resources = ["${module.state_bucket.arn}/complaints/${each.key}/terraform.tfstate"]
  }

  statement {
    sid       = "StateIsEncryptedWithTheBootstrapKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.bootstrap.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "ReadTheTablesConfiguration"
    actions   = ["dynamodb:Describe*", "dynamodb:ListTagsOfResource"]
    resources = ["${local.dynamodb_arn}:table/complaints-${each.key}-*"]
  }

  statement {
    sid = "ReadTheFunctionsConfiguration"
    actions = [
      "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:GetFunctionCodeSigningConfig",
      "lambda:GetFunctionConcurrency", "lambda:GetFunctionRecursionConfig", "lambda:GetPolicy",
      "lambda:GetRuntimeManagementConfig", "lambda:ListVersionsByFunction", "lambda:ListTags",
    ]
    resources = ["${local.lambda_arn}:function:complaints-${each.key}-*"]
  }

  statement {
    sid = "ReadTheRoles"
    actions = [
      "iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
      "iam:ListRoleTags", "iam:ListInstanceProfilesForRole",
    ]
    resources = ["${local.iam_arn}:role/complaints-${each.key}-*"]
  }

  statement {
    sid = "ReadTheBucketsConfiguration"
    actions = [
      "s3:ListBucket", "s3:GetBucket*", "s3:GetAccelerateConfiguration", "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration", "s3:GetEncryptionConfiguration",
    ]
    resources = ["${local.s3_arn}complaints-${each.key}-*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "ReadTheQueuesConfiguration"
    actions   = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags"]
    resources = ["${local.sqs_arn}:complaints-${each.key}-*"]
  }

  statement {
    sid       = "ReadTheTopicsConfiguration"
    actions   = ["sns:GetTopicAttributes", "sns:GetSubscriptionAttributes", "sns:ListSubscriptionsByTopic", "sns:ListTagsForResource"]
    resources = ["${local.sns_arn}:complaints-${each.key}-*"]
  }

  statement {
    sid       = "ReadTheStateMachine"
    actions   = ["states:DescribeStateMachine", "states:ListStateMachineVersions", "states:ListTagsForResource"]
    resources = ["${local.states_arn}:stateMachine:complaints-${each.key}-*"]
  }

  statement {
    sid       = "ReadTheRules"
    actions   = ["events:DescribeRule", "events:ListTargetsByRule", "events:ListTagsForResource"]
    resources = ["${local.events_arn}:rule/complaints-${each.key}-*"]
  }

  statement {
    sid       = "ReadTheAlarms"
    actions   = ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"]
    resources = ["${local.cloudwatch_arn}:alarm:complaints-${each.key}-*"]
  }

  statement {
    sid       = "ReadTheLogGroupsConfiguration"
    actions   = ["logs:DescribeLogGroups", "logs:DescribeMetricFilters", "logs:ListTagsForResource", "logs:ListTagsLogGroup"]
    resources = ["${local.logs_arn}:log-group:*"]
  }

  # HTTP API ids are generated: the environment's tag scopes them (routes, integrations and authorizers take
  # their API's).
  statement {
    sid       = "ReadTheApis"
    actions   = ["apigateway:GET"]
    resources = ["${local.apigateway_arn}:/apis/*", "${local.apigateway_arn}:/tags/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
  }

  statement {
    sid       = "ReadTheKeysConfiguration"
    actions   = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"]
    resources = ["${local.kms_arn}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
  }

  # Lambda returns a function's environment, and Step Functions a state machine's definition, only to a
  # caller that may decrypt them with the environment's key; without it every plan would show a change.
  statement {
    sid       = "ReadEncryptedFunctionAndStateMachineConfiguration"
    actions   = ["kms:Decrypt"]
    resources = ["${local.kms_arn}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["lambda.${var.region}.amazonaws.com", "states.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
  }

  statement {
    sid       = "ReadTheServingImages"
    actions   = ["ecr:DescribeRepositories", "ecr:DescribeImages", "ecr:ListImages"]
    resources = [aws_ecr_repository.serving.arn]
  }
}

# The ops front end (modules budibase and ops_api): what its resources' refresh reads. Ids that are
# generated (file systems, access points, user pools, backup plans) are scoped by the environment's tag.
data "aws_iam_policy_document" "plan_ops_front_end" {
  for_each = toset(local.environments)

  statement {
    sid       = "ReadTheUserPoolsAndClients"
    actions   = ["cognito-idp:DescribeUserPool", "cognito-idp:GetUserPoolMfaConfig", "cognito-idp:DescribeUserPoolClient", "cognito-idp:ListTagsForResource"]
    resources = ["${local.cognito_arn}:userpool/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
  }

  # A secret's refresh describes it; no secret version is in the state, so no value is read.
  statement {
    sid       = "DescribeBudibasesSecrets"
    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"]
    resources = ["${local.secrets_arn}:secret:complaints-${each.key}/budibase-??????", "${local.secrets_arn}:secret:complaints-${each.key}/budibase-oidc-client-??????"]
  }

  statement {
    sid     = "ReadTheBudibaseService"
    actions = ["ecs:DescribeClusters", "ecs:DescribeServices", "ecs:ListTagsForResource"]
    resources = [
      "${local.ecs_arn}:cluster/complaints-${each.key}-*", "${local.ecs_arn}:service/complaints-${each.key}-*/complaints-${each.key}-*",
      "${local.ecs_arn}:task-definition/complaints-${each.key}-*:*",
    ]
  }

  statement {
    sid       = "ReadTheDataVolume"
    actions   = ["elasticfilesystem:Describe*", "elasticfilesystem:ListTagsForResource"]
    resources = ["${local.efs_arn}:file-system/*", "${local.efs_arn}:access-point/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
  }

  statement {
    sid       = "ReadTheFirewall"
    actions   = ["wafv2:GetWebACL", "wafv2:GetLoggingConfiguration", "wafv2:ListTagsForResource", "wafv2:GetWebACLForResource"]
    resources = ["${local.wafv2_arn}/webacl/complaints-${each.key}-*/*", "${local.elb_arn}:loadbalancer/app/complaints-${each.key}-*/*"]
  }

  statement {
    sid       = "ReadTheBackupVault"
    actions   = ["backup:DescribeBackupVault", "backup:ListTags"]
    resources = ["${local.backup_arn}:backup-vault:complaints-${each.key}-*"]
  }

  statement {
    sid       = "ReadTheBackupPlans"
    actions   = ["backup:GetBackupPlan", "backup:GetBackupSelection", "backup:ListTags"]
    resources = ["${local.backup_arn}:backup-plan:*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
  }
}

data "aws_iam_policy_document" "plan_unscoped" {
  statement {
    sid = "ReadWhatHasNoResourceLevelPermissions"
    actions = [
      "kms:ListAliases", "logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:DescribeResourcePolicies",
      # The ops front end: none of these has a resource type in the Service Authorization Reference.
      "ecs:DescribeTaskDefinition", "elasticloadbalancing:Describe*", "elasticloadbalancing:GetLoadBalancerWebACL",
      "ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules", "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSubnets", "cognito-idp:DescribeUserPoolDomain",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "plan" {
  for_each = toset(local.environments)

  name   = "read-only-plan"
  role   = aws_iam_role.plan[each.key].id
  policy = data.aws_iam_policy_document.plan[each.key].json
}

resource "aws_iam_role_policy" "plan_ops_front_end" {
  for_each = toset(local.environments)

  name   = "read-only-ops-front-end"
  role   = aws_iam_role.plan[each.key].id
  policy = data.aws_iam_policy_document.plan_ops_front_end[each.key].json
}

resource "aws_iam_role_policy" "plan_unscoped" {
  for_each = toset(local.environments)

  name   = "read-only-unscoped"
  role   = aws_iam_role.plan[each.key].id
  policy = data.aws_iam_policy_document.plan_unscoped.json
}

# -- apply: what terraform apply of infra/stack needs in one environment, the image push, the release ------
# Every stack resource is named complaints-<env>-...; where a service has no names in its ARNs (KMS keys,
# API Gateway) the environment's tag or the region scopes it instead.

data "aws_iam_policy_document" "apply_state" {
  for_each = toset(local.environments)

  statement {
    sid       = "ListTheStateBucket"
    actions   = ["s3:ListBucket"]
    resources = [module.state_bucket.arn]
  }

  statement {
    sid       = "ReadAndWriteTheEnvironmentsState"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${module.state_bucket.arn}/complaints/${each.key}/terraform.tfstate"]
  }

  statement {
    sid       = "HoldTheEnvironmentsStateLock"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${module.state_bucket.arn}/complaints/${each.key}/terraform.tfstate.tflock"]
  }

  statement {
    sid       = "StateIsEncryptedWithTheBootstrapKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.bootstrap.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
  }

  # ECR encrypts layers with the bootstrap key through its own grant: pushing needs no KMS permission.
  statement {
    sid = "PushAndReadTheServingImage"
    actions = [
      "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
      "ecr:PutImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:DescribeImages", "ecr:DescribeRepositories",
    ]
    resources = [aws_ecr_repository.serving.arn]
  }

  statement {
    sid       = "LogInToTheRegistry"
    actions   = ["ecr:GetAuthorizationToken"] # no resource-level permissions
    resources = ["*"]
  }

  # `complaints --env <env> release apply` (model_info, gate_decisions, model_strategy, audit_log,
  # releases; conditional puts) and `release diff`.
  statement {
    sid       = "ReleaseApplyWritesTheStore"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:DescribeTable"]
    resources = ["${local.dynamodb_arn}:table/complaints-${each.key}-*"]
  }

  # `make smoke ENV=<env>`: a batch of real complaints into the inbox, then its execution followed to the end.
  statement {
    sid       = "SmokeTestPutsABatch"
    actions   = ["s3:PutObject"]
    resources = ["${local.s3_arn}complaints-${each.key}-batches-${local.account_id}/inbox/smoke-*"]
  }

  statement {
    sid       = "SmokeTestFindsItsExecution"
    actions   = ["states:ListExecutions"]
    resources = ["${local.states_arn}:stateMachine:complaints-${each.key}-triage"]
  }

  statement {
    sid       = "SmokeTestReadsItsExecution"
    actions   = ["states:DescribeExecution"]
    resources = ["${local.states_arn}:execution:complaints-${each.key}-triage:*"]
  }
}

data "aws_iam_policy_document" "apply_data" {
  for_each = toset(local.environments)

  # module key: the key is created with the environment's tag (the provider's default tags), and is managed
  # and used afterwards by that tag; the bootstrap key (tag complaints:stack = bootstrap) is never touched.
  statement {
    sid       = "CreateTheEnvironmentsKey"
    actions   = ["kms:CreateKey", "kms:TagResource"]
    resources = ["*"] # a key's ARN exists only once it is created
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/complaints:environment"
      values   = [each.key]
    }
    condition {
      test     = "StringEqualsIfExists"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
    condition {
      test     = "StringNotEquals"
      variable = "aws:ResourceTag/complaints:stack"
      values   = ["bootstrap"]
    }
  }

  statement {
    sid = "ManageAndUseTheEnvironmentsKey"
    actions = [
      "kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags", "kms:PutKeyPolicy",
      "kms:EnableKeyRotation", "kms:UpdateKeyDescription", "kms:TagResource", "kms:UntagResource",
      "kms:ScheduleKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias",
      "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
    ]
    resources = ["${local.kms_arn}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
    condition {
      test     = "StringNotEquals"
      variable = "aws:ResourceTag/complaints:stack"
      values   = ["bootstrap"]
    }
  }

  statement {
    sid       = "LetTheServicesUseTheEnvironmentsKey"
    actions   = ["kms:CreateGrant"]
    resources = ["${local.kms_arn}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }

  statement {
    sid       = "NameTheEnvironmentsKey"
    actions   = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
    resources = ["${local.kms_arn}:alias/complaints-${each.key}-*"]
  }

  statement {
    sid = "ManageTheTables"
    actions = [
      "dynamodb:CreateTable", "dynamodb:UpdateTable", "dynamodb:DeleteTable", "dynamodb:Describe*",
      "dynamodb:UpdateContinuousBackups", "dynamodb:UpdateTimeToLive", "dynamodb:TagResource",
      "dynamodb:UntagResource", "dynamodb:ListTagsOfResource",
    ]
    resources = ["${local.dynamodb_arn}:table/complaints-${each.key}-*"]
  }

  # module intake: the batch bucket and its access-log bucket; module budibase: the load balancer's access
  # logs; all named after this account.
  statement {
    sid = "ManageTheBuckets"
    actions = [
      "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucket*", "s3:GetAccelerateConfiguration",
      "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration", "s3:GetEncryptionConfiguration",
      "s3:PutBucketPublicAccessBlock", "s3:PutBucketOwnershipControls", "s3:PutBucketVersioning",
      "s3:PutEncryptionConfiguration", "s3:PutLifecycleConfiguration", "s3:PutBucketLogging",
      "s3:PutBucketNotification", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketTagging",
    ]
    resources = [
      "${local.s3_arn}complaints-${each.key}-batches-${local.account_id}",
      "${local.s3_arn}complaints-${each.key}-batches-${local.account_id}-access-logs",
      "${local.s3_arn}complaints-${each.key}-budibase-alb-logs-${local.account_id}",
    ]
  }

  statement {
    sid = "ManageTheQueue"
    actions = [
      "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:GetQueueUrl",
      "sqs:ListQueueTags", "sqs:TagQueue", "sqs:UntagQueue",
    ]
    resources = ["${local.sqs_arn}:complaints-${each.key}-*"]
  }

  statement {
    sid = "ManageTheAlarmTopic"
    actions = [
      "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:TagResource",
      "sns:UntagResource", "sns:ListTagsForResource", "sns:Subscribe", "sns:Unsubscribe",
      "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes", "sns:ListSubscriptionsByTopic",
    ]
    resources = ["${local.sns_arn}:complaints-${each.key}-*"]
  }
}

data "aws_iam_policy_document" "apply_compute" {
  for_each = toset(local.environments)

  statement {
    sid = "ReadRetagAndRetireTheStacksRoles"
    actions = [
      "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole",
      "iam:ListRoleTags", "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
    ]
    resources = ["${local.iam_arn}:role/complaints-${each.key}-*"]
  }

  # A role is created, and given permissions, only with the environment's boundary on it: whatever policy an
  # apply writes, the role can do no more than the boundary allows (never IAM).
  statement {
    sid       = "CreateAndGrantTheStacksRolesOnlyWithinTheBoundary"
    actions   = ["iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"]
    resources = ["${local.iam_arn}:role/complaints-${each.key}-*"]
    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [aws_iam_policy.stack_role_boundary[each.key].arn]
    }
  }

  statement {
    sid       = "AttachOnlyTheXRayPolicy"
    actions   = ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    resources = ["${local.iam_arn}:role/complaints-${each.key}-*"]
    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values   = ["arn:${local.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"]
    }
    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [aws_iam_policy.stack_role_boundary[each.key].arn]
    }
  }

  statement {
    sid       = "PassTheStacksRolesToItsServices"
    actions   = ["iam:PassRole"]
    resources = ["${local.iam_arn}:role/complaints-${each.key}-*"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com", "states.amazonaws.com", "events.amazonaws.com"]
    }
  }

  statement {
    sid    = "NeverTheCiIdentities"
    effect = "Deny"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy",
      "iam:DeleteRolePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:TagRole", "iam:UntagRole",
      "iam:PassRole", "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider",
      "iam:UpdateOpenIDConnectProviderThumbprint", "iam:AddClientIDToOpenIDConnectProvider",
    ]
    resources = ["${local.iam_arn}:role${local.roles_path}*", "${local.iam_arn}:oidc-provider/*"]
  }

  # No role loses its boundary, and the boundary is never rewritten: it is bootstrap's, like these roles.
  statement {
    sid       = "NeverLiftOrRewriteTheBoundary"
    effect    = "Deny"
    actions   = ["iam:DeleteRolePermissionsBoundary", "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion"]
    resources = ["*"]
  }

  statement {
    sid = "ManageTheFunctions"
    actions = [
      "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
      "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:GetFunctionCodeSigningConfig",
      "lambda:GetFunctionRecursionConfig", "lambda:GetRuntimeManagementConfig", "lambda:ListVersionsByFunction",
      "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency", "lambda:GetFunctionConcurrency",
      "lambda:AddPermission", "lambda:RemovePermission", "lambda:GetPolicy", "lambda:TagResource",
      "lambda:UntagResource", "lambda:ListTags",
    ]
    resources = ["${local.lambda_arn}:function:complaints-${each.key}-*"]
  }

  statement {
    sid = "ManageTheStateMachine"
    actions = [
      "states:CreateStateMachine", "states:UpdateStateMachine", "states:DeleteStateMachine",
      "states:DescribeStateMachine", "states:ListStateMachineVersions", "states:TagResource",
      "states:UntagResource", "states:ListTagsForResource",
    ]
    resources = ["${local.states_arn}:stateMachine:complaints-${each.key}-*"]
  }

  statement {
    sid = "ManageTheLogGroupsAndMetricFilters"
    actions = [
      "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
      "logs:AssociateKmsKey", "logs:DisassociateKmsKey", "logs:TagResource", "logs:UntagResource", "logs:TagLogGroup",
      "logs:UntagLogGroup", "logs:ListTagsForResource", "logs:ListTagsLogGroup", "logs:PutMetricFilter",
      "logs:DeleteMetricFilter", "logs:DescribeMetricFilters",
    ]
    resources = [
      "${local.logs_arn}:log-group:/aws/lambda/complaints-${each.key}-*",
      "${local.logs_arn}:log-group:/aws/vendedlogs/states/complaints-${each.key}-*",
      "${local.logs_arn}:log-group:/aws/vendedlogs/apigateway/complaints-${each.key}-*",
      "${local.logs_arn}:log-group:/ecs/complaints-${each.key}-*",
      "${local.logs_arn}:log-group:aws-waf-logs-complaints-${each.key}-*",
    ]
  }

  statement {
    sid       = "FindTheLogGroups"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["${local.logs_arn}:log-group:*"]
  }

  statement {
    sid = "ManageTheBatchRule"
    actions = [
      "events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:EnableRule", "events:DisableRule",
      "events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule", "events:TagResource",
      "events:UntagResource", "events:ListTagsForResource",
    ]
    resources = ["${local.events_arn}:rule/complaints-${each.key}-*"]
  }

  statement {
    sid = "ManageTheAlarms"
    actions = [
      "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:TagResource",
      "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource",
    ]
    resources = ["${local.cloudwatch_arn}:alarm:complaints-${each.key}-*"]
  }

  # HTTP API ids are generated: the environment's tag scopes them. An API is created with it (the provider's
  # default tags), its stages carry it, and its routes, integrations and authorizer take their API's; a tag
  # change may not name another environment.
  statement {
    sid       = "CreateTheEnvironmentsApis"
    actions   = ["apigateway:POST"]
    resources = ["${local.apigateway_arn}:/apis"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/complaints:environment"
      values   = [each.key]
    }
  }

  statement {
    sid       = "ManageTheEnvironmentsApis"
    actions   = ["apigateway:GET", "apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"]
    resources = ["${local.apigateway_arn}:/apis/*", "${local.apigateway_arn}:/tags/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
    condition {
      test     = "StringEqualsIfExists"
      variable = "aws:RequestTag/complaints:environment"
      values   = [each.key]
    }
  }
}

# module budibase and ops_api's sign-in: Budibase's roles passed to ECS and AWS Backup, the user pool and its
# clients, the secrets, the service, the load balancer and its firewall. Names are complaints-<env>-*; user
# pools have generated ids, so their tag. (Budibase's roles are created within the boundary, apply_compute.)
data "aws_iam_policy_document" "apply_ops_front_end" {
  for_each = toset(local.environments)

  statement {
    sid       = "AttachOnlyTheBackupPoliciesToTheBackupRole"
    actions   = ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    resources = ["${local.iam_arn}:role/complaints-${each.key}-budibase-backup"]
    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values = [
        "arn:${local.partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
        "arn:${local.partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
      ]
    }
    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [aws_iam_policy.stack_role_boundary[each.key].arn]
    }
  }

  statement {
    sid     = "PassTheBudibaseTaskRolesToEcs"
    actions = ["iam:PassRole"]
    resources = [
      "${local.iam_arn}:role/complaints-${each.key}-budibase-execution",
      "${local.iam_arn}:role/complaints-${each.key}-budibase-task",
    ]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid       = "PassTheBackupRoleToAwsBackup"
    actions   = ["iam:PassRole"]
    resources = ["${local.iam_arn}:role/complaints-${each.key}-budibase-backup"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["backup.amazonaws.com"]
    }
  }

  # ECS, Elastic Load Balancing, EFS and AWS Backup create their service-linked role on first use in an
  # account, as the caller: only these four, by their fixed names.
  statement {
    sid     = "LetTheFrontEndsServicesCreateTheirLinkedRoles"
    actions = ["iam:CreateServiceLinkedRole"]
    resources = [
      "${local.iam_arn}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
      "${local.iam_arn}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
      "${local.iam_arn}:role/aws-service-role/elasticfilesystem.amazonaws.com/AWSServiceRoleForAmazonElasticFileSystem",
      "${local.iam_arn}:role/aws-service-role/backup.amazonaws.com/AWSServiceRoleForBackup",
    ]
    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com", "elasticfilesystem.amazonaws.com", "backup.amazonaws.com"]
    }
  }

  statement {
    sid       = "CreateTheOpsUserPool"
    actions   = ["cognito-idp:CreateUserPool"] # no resource type: a pool's id exists only once it is created
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/complaints:environment"
      values   = [each.key]
    }
  }

  statement {
    sid = "ManageTheOpsUserPoolItsClientsAndDomain"
    actions = [
      "cognito-idp:DescribeUserPool", "cognito-idp:UpdateUserPool", "cognito-idp:DeleteUserPool",
      "cognito-idp:GetUserPoolMfaConfig", "cognito-idp:SetUserPoolMfaConfig", "cognito-idp:TagResource",
      "cognito-idp:UntagResource", "cognito-idp:ListTagsForResource", "cognito-idp:CreateUserPoolClient",
      "cognito-idp:UpdateUserPoolClient", "cognito-idp:DeleteUserPoolClient", "cognito-idp:DescribeUserPoolClient",
      "cognito-idp:CreateUserPoolDomain", "cognito-idp:UpdateUserPoolDomain", "cognito-idp:DeleteUserPoolDomain",
    ]
    resources = ["${local.cognito_arn}:userpool/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
  }

  # Budibase's credentials and its OIDC client's secret (encrypted with the environment's key, above). Their
  # values are put once, by the AWS CLI during the apply that creates them (modules budibase and ops_api), and
  # never read back: no GetSecretValue.
  statement {
    sid = "ManageBudibasesSecrets"
    actions = [
      "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:DescribeSecret",
      "secretsmanager:UpdateSecret", "secretsmanager:GetResourcePolicy", "secretsmanager:TagResource",
      "secretsmanager:UntagResource", "secretsmanager:PutSecretValue",
    ]
    resources = [
      "${local.secrets_arn}:secret:complaints-${each.key}/budibase-??????",
      "${local.secrets_arn}:secret:complaints-${each.key}/budibase-oidc-client-??????",
    ]
  }

  statement {
    sid = "ManageTheBudibaseService"
    actions = [
      "ecs:CreateCluster", "ecs:UpdateCluster", "ecs:UpdateClusterSettings", "ecs:DeleteCluster", "ecs:DescribeClusters",
      "ecs:RegisterTaskDefinition", "ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService", "ecs:DescribeServices",
      "ecs:TagResource", "ecs:UntagResource", "ecs:ListTagsForResource",
    ]
    resources = [
      "${local.ecs_arn}:cluster/complaints-${each.key}-*",
      "${local.ecs_arn}:service/complaints-${each.key}-*/complaints-${each.key}-*",
      "${local.ecs_arn}:task-definition/complaints-${each.key}-*:*",
    ]
  }

  statement {
    sid = "ManageTheLoadBalancer"
    actions = [
      "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:DeleteLoadBalancer",
      "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetSecurityGroups",
      "elasticloadbalancing:SetSubnets", "elasticloadbalancing:SetIpAddressType", "elasticloadbalancing:CreateListener",
      "elasticloadbalancing:DeleteListener", "elasticloadbalancing:ModifyListener",
      "elasticloadbalancing:ModifyListenerAttributes", "elasticloadbalancing:CreateTargetGroup",
      "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:ModifyTargetGroup",
      "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
    ]
    resources = [
      "${local.elb_arn}:loadbalancer/app/complaints-${each.key}-*/*",
      "${local.elb_arn}:listener/app/complaints-${each.key}-*/*/*",
      "${local.elb_arn}:targetgroup/complaints-${each.key}-*/*",
    ]
  }

  statement {
    sid = "ManageTheFirewallAndItsAssociation"
    actions = [
      "wafv2:CreateWebACL", "wafv2:UpdateWebACL", "wafv2:DeleteWebACL", "wafv2:GetWebACL", "wafv2:TagResource",
      "wafv2:UntagResource", "wafv2:ListTagsForResource", "wafv2:PutLoggingConfiguration",
      "wafv2:GetLoggingConfiguration", "wafv2:DeleteLoggingConfiguration", "wafv2:AssociateWebACL",
      "wafv2:DisassociateWebACL", "wafv2:GetWebACLForResource",
    ]
    resources = [
      "${local.wafv2_arn}/webacl/complaints-${each.key}-*/*",
      "${local.elb_arn}:loadbalancer/app/complaints-${each.key}-*/*",
    ]
  }
}

# module budibase: the security groups (and the network interfaces of the volume's mount targets), the data
# volume and its backups. Security groups, file systems, access points and backup plans have generated
# ids: they are created with the environment's tag and managed by it.
data "aws_iam_policy_document" "apply_ops_network_and_storage" {
  for_each = toset(local.environments)

  statement {
    sid       = "CreateTheSecurityGroupsInAVpc"
    actions   = ["ec2:CreateSecurityGroup"]
    resources = ["${local.ec2_arn}:vpc/*", "${local.ec2_arn}:security-group/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/complaints:environment"
      values   = [each.key]
    }
  }

  statement {
    sid       = "TagSecurityGroupsAndRulesAsTheyAreCreated"
    actions   = ["ec2:CreateTags"]
    resources = ["${local.ec2_arn}:security-group/*", "${local.ec2_arn}:security-group-rule/*"]
    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/complaints:environment"
      values   = [each.key]
    }
  }

  statement {
    sid       = "CreateTaggedRules"
    actions   = ["ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress"]
    resources = ["${local.ec2_arn}:security-group-rule/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/complaints:environment"
      values   = [each.key]
    }
  }

  statement {
    sid = "ManageTheEnvironmentsSecurityGroupsAndRules"
    actions = [
      "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress",
      "ec2:RevokeSecurityGroupEgress", "ec2:ModifySecurityGroupRules", "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
      "ec2:UpdateSecurityGroupRuleDescriptionsEgress", "ec2:DeleteSecurityGroup", "ec2:CreateTags", "ec2:DeleteTags",
    ]
    resources = ["${local.ec2_arn}:security-group/*", "${local.ec2_arn}:security-group-rule/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
  }

  # EFS creates and deletes a mount target's network interface with the caller's credentials (a forward
  # access session), in a landing-zone subnet this bootstrap does not know (and cannot tag). Only such a
  # request is allowed: the role's holder cannot create or delete an interface by calling EC2 itself. (The
  # functions run outside any VPC; Budibase's task and load balancer get theirs from ECS's and ELB's own roles.)
  statement {
    sid       = "MountTargetsInterfacesInTheLandingZonesSubnets"
    actions   = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"]
    resources = ["${local.ec2_arn}:subnet/*", "${local.ec2_arn}:network-interface/*"]
    condition {
      test     = "Bool"
      variable = "aws:ViaAWSService"
      values   = ["true"]
    }
  }

  statement {
    sid       = "MountTargetsInterfacesInTheEnvironmentsSecurityGroup"
    actions   = ["ec2:CreateNetworkInterface"]
    resources = ["${local.ec2_arn}:security-group/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
    condition {
      test     = "Bool"
      variable = "aws:ViaAWSService"
      values   = ["true"]
    }
  }

  statement {
    sid       = "CreateTheDataVolume"
    actions   = ["elasticfilesystem:CreateFileSystem"] # no resource type: the id exists only once it is created
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/complaints:environment"
      values   = [each.key]
    }
  }

  statement {
    sid       = "TagTheVolumeAndAccessPointAsTheyAreCreated"
    actions   = ["elasticfilesystem:TagResource"]
    resources = ["${local.efs_arn}:file-system/*", "${local.efs_arn}:access-point/*"]
    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:CreateAction"
      values   = ["CreateFileSystem", "CreateAccessPoint"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/complaints:environment"
      values   = [each.key]
    }
  }

  statement {
    sid = "ManageTheDataVolume"
    actions = [
      "elasticfilesystem:Describe*", "elasticfilesystem:ListTagsForResource", "elasticfilesystem:UpdateFileSystem",
      "elasticfilesystem:DeleteFileSystem", "elasticfilesystem:PutBackupPolicy", "elasticfilesystem:PutLifecycleConfiguration",
      "elasticfilesystem:PutFileSystemPolicy", "elasticfilesystem:DeleteFileSystemPolicy",
      "elasticfilesystem:CreateMountTarget", "elasticfilesystem:DeleteMountTarget",
      "elasticfilesystem:ModifyMountTargetSecurityGroups", "elasticfilesystem:CreateAccessPoint",
      "elasticfilesystem:DeleteAccessPoint", "elasticfilesystem:TagResource", "elasticfilesystem:UntagResource",
    ]
    resources = ["${local.efs_arn}:file-system/*", "${local.efs_arn}:access-point/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
  }

  statement {
    sid = "ManageTheBackupVault"
    actions = [
      "backup:CreateBackupVault", "backup:DeleteBackupVault", "backup:DescribeBackupVault", "backup:ListTags",
      "backup:TagResource", "backup:UntagResource",
    ]
    resources = ["${local.backup_arn}:backup-vault:complaints-${each.key}-*"]
  }

  statement {
    sid       = "CreateTheBackupPlan"
    actions   = ["backup:CreateBackupPlan", "backup:TagResource"]
    resources = ["${local.backup_arn}:backup-plan:*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/complaints:environment"
      values   = [each.key]
    }
  }

  statement {
    sid = "ManageTheBackupPlanAndItsSelection"
    actions = [
      "backup:GetBackupPlan", "backup:UpdateBackupPlan", "backup:DeleteBackupPlan", "backup:CreateBackupSelection",
      "backup:GetBackupSelection", "backup:DeleteBackupSelection", "backup:ListBackupSelections", "backup:ListTags",
      "backup:TagResource", "backup:UntagResource",
    ]
    resources = ["${local.backup_arn}:backup-plan:*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
  }
}

data "aws_iam_policy_document" "apply_unscoped" {
  statement {
    sid = "DeliverExecutionAndAccessLogs"
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "kms:ListAliases",
    ]
    resources = ["*"]
  }

  # Budibase's credentials are generated by Secrets Manager (modules/budibase): it returns random characters,
  # touching no resource.
  statement {
    sid       = "GenerateBudibasesCredentials"
    actions   = ["secretsmanager:GetRandomPassword"]
    resources = ["*"]
  }

  # The ops front end's actions that have no resource type in the Service Authorization Reference.
  # DeregisterTaskDefinition could retire any family's revision; the rest only read.
  statement {
    sid = "ManageWhatTheFrontEndCannotScope"
    actions = [
      "ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition", "elasticloadbalancing:Describe*",
      "ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules", "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSubnets", "cognito-idp:DescribeUserPoolDomain",
      # AWS Backup checks this when a vault is created (its storage); it names no resource.
      "backup-storage:MountCapsule",
    ]
    resources = ["*"]
  }

  # The load balancer's side of the firewall association: SetWebAcl has no resource type; its successors'
  # resource types are not yet published. wafv2:AssociateWebACL, which is scoped to the environment's ACL
  # and load balancer, must allow the same call.
  statement {
    sid = "LetTheFirewallAttachToTheLoadBalancer"
    actions = [
      "elasticloadbalancing:SetWebAcl", "elasticloadbalancing:CreateWebACLAssociation",
      "elasticloadbalancing:DeleteWebACLAssociation", "elasticloadbalancing:GetLoadBalancerWebACL",
    ]
    resources = ["*"]
  }
}

# Managed policies, not inline: together the apply permissions exceed the 10,240 characters all inline
# policies of one role may hold; each of these stays under a managed policy's 6,144.
resource "aws_iam_policy" "apply_state" {
  for_each = toset(local.environments)

  name        = "github-complaints-${each.key}-apply-state"
  path        = local.roles_path
  description = "GitHub Actions environment ${each.key}: the Terraform state of the environment, the serving image, release apply and the smoke test"
  policy      = data.aws_iam_policy_document.apply_state[each.key].json
}

resource "aws_iam_role_policy_attachment" "apply_state" {
  for_each = toset(local.environments)

  role       = aws_iam_role.apply[each.key].name
  policy_arn = aws_iam_policy.apply_state[each.key].arn
}

resource "aws_iam_policy" "apply_data" {
  for_each = toset(local.environments)

  name        = "github-complaints-${each.key}-apply-data"
  path        = local.roles_path
  description = "GitHub Actions environment ${each.key}: the environment's key, tables, buckets, queue and topic"
  policy      = data.aws_iam_policy_document.apply_data[each.key].json
}

resource "aws_iam_role_policy_attachment" "apply_data" {
  for_each = toset(local.environments)

  role       = aws_iam_role.apply[each.key].name
  policy_arn = aws_iam_policy.apply_data[each.key].arn
}

resource "aws_iam_policy" "apply_compute" {
  for_each = toset(local.environments)

  name        = "github-complaints-${each.key}-apply-compute"
  path        = local.roles_path
  description = "GitHub Actions environment ${each.key}: the environment's roles, functions, state machine, log groups, rule, alarms and API"
  policy      = data.aws_iam_policy_document.apply_compute[each.key].json
}

resource "aws_iam_role_policy_attachment" "apply_compute" {
  for_each = toset(local.environments)

  role       = aws_iam_role.apply[each.key].name
  policy_arn = aws_iam_policy.apply_compute[each.key].arn
}

resource "aws_iam_policy" "apply_ops_front_end" {
  for_each = toset(local.environments)

  name        = "github-complaints-${each.key}-apply-ops-front-end"
  path        = local.roles_path
  description = "GitHub Actions environment ${each.key}: the ops user pool, Budibase's secrets, service, load balancer and firewall"
  policy      = data.aws_iam_policy_document.apply_ops_front_end[each.key].json
}

resource "aws_iam_role_policy_attachment" "apply_ops_front_end" {
  for_each = toset(local.environments)

  role       = aws_iam_role.apply[each.key].name
  policy_arn = aws_iam_policy.apply_ops_front_end[each.key].arn
}

resource "aws_iam_policy" "apply_ops_network_and_storage" {
  for_each = toset(local.environments)

  name        = "github-complaints-${each.key}-apply-ops-network-storage"
  path        = local.roles_path
  description = "GitHub Actions environment ${each.key}: Budibase's security groups, data volume and backups"
  policy      = data.aws_iam_policy_document.apply_ops_network_and_storage[each.key].json
}

resource "aws_iam_role_policy_attachment" "apply_ops_network_and_storage" {
  for_each = toset(local.environments)

  role       = aws_iam_role.apply[each.key].name
  policy_arn = aws_iam_policy.apply_ops_network_and_storage[each.key].arn
}

resource "aws_iam_policy" "apply_unscoped" {
  name        = "github-complaints-apply-unscoped"
  path        = local.roles_path
  description = "GitHub Actions apply roles: the actions that support no resource-level permissions (log delivery, aliases, the ops front end's)"
  policy      = data.aws_iam_policy_document.apply_unscoped.json
}

resource "aws_iam_role_policy_attachment" "apply_unscoped" {
  for_each = toset(local.environments)

  role       = aws_iam_role.apply[each.key].name
  policy_arn = aws_iam_policy.apply_unscoped.arn
}

# -- the permissions boundary of every role the stack creates ---------------------------------------------
# An apply role creates and grants only roles that carry this boundary (apply_compute), so no role of the
# stack can do more than this, whatever policy an apply writes into it: items of the environment's tables,
# objects of its buckets, its key (never bootstrap's), its dead-letter queue, functions and state machine,
# its log streams, Budibase's credentials and volume, traces; never IAM, never another role. It is what the
# stack's roles are granted (modules functions, orchestration, intake, budibase: tests/test_infra.py holds
# every grant of those modules to it), the store's item writes, and what AWS Backup's managed policies use for
# the EFS volume.
data "aws_iam_policy_document" "stack_role_boundary" {
  for_each = toset(local.environments)

  # Items only: the store's reads, conditional puts and transactions (complaints/store/dynamodb.py).
  statement {
    sid = "ItsTablesItems"
    actions = [
      "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:PutItem", "dynamodb:UpdateItem",
      "dynamodb:ConditionCheckItem",
    ]
    resources = ["${local.dynamodb_arn}:table/complaints-${each.key}-*"]
  }

  statement {
    sid       = "ItsBatchObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
    resources = ["${local.s3_arn}complaints-${each.key}-*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "ItsKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey"]
    resources = ["${local.kms_arn}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
    condition {
      test     = "StringNotEquals"
      variable = "aws:ResourceTag/complaints:stack"
      values   = ["bootstrap"]
    }
  }

  # AWS Backup's role (AWS's managed backup and restore policies) hands the key to the service for a recovery point.
  statement {
    sid       = "ItsKeyForAwsBackup"
    actions   = ["kms:CreateGrant"]
    resources = ["${local.kms_arn}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/complaints:environment"
      values   = [each.key]
    }
    condition {
      test     = "StringNotEquals"
      variable = "aws:ResourceTag/complaints:stack"
      values   = ["bootstrap"]
    }
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }

  statement {
    sid       = "ItsLogStreams"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.logs_arn}:log-group:/aws/lambda/complaints-${each.key}-*", "${local.logs_arn}:log-group:/ecs/complaints-${each.key}-*"]
  }

  statement {
    sid     = "ItsFunctionsStateMachineAndQueue"
    actions = ["lambda:InvokeFunction", "states:StartExecution", "states:DescribeExecution", "states:StopExecution", "sqs:SendMessage"]
    resources = [
      "${local.lambda_arn}:function:complaints-${each.key}-*", "${local.states_arn}:stateMachine:complaints-${each.key}-*",
      "${local.states_arn}:execution:complaints-${each.key}-*", "${local.sqs_arn}:complaints-${each.key}-*",
    ]
  }

  statement {
    sid       = "BudibasesCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["${local.secrets_arn}:secret:complaints-${each.key}/budibase-??????"]
  }

  # The volume's own policy admits only Budibase's task role, through its access point.
  statement {
    sid = "BudibasesVolumeAndItsBackups"
    actions = [
      "elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess",
      "elasticfilesystem:Backup", "elasticfilesystem:Restore", "elasticfilesystem:DescribeFileSystems",
      "elasticfilesystem:DescribeTags", "backup:DescribeBackupVault", "backup:CopyIntoBackupVault",
    ]
    resources = ["${local.efs_arn}:file-system/*", "${local.backup_arn}:backup-vault:complaints-${each.key}-*"]
  }

  statement {
    sid = "WhatHasNoResourceLevelPermissions"
    actions = [
      "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
      "xray:GetSamplingStatisticSummaries", "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups", "tag:GetResources",
    ]
    resources = ["*"]
  }

  # Implied by the allows above; written out so that no later allow can open them.
  statement {
    sid       = "NeverIamNorAnotherRole"
    effect    = "Deny"
    actions   = ["iam:*", "sts:AssumeRole"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "stack_role_boundary" {
  for_each = toset(local.environments)

  name        = "complaints-${each.key}-role-boundary" # infra/stack names it so (local.permissions_boundary_arn)
  description = "Permissions boundary of every role infra/stack creates in ${each.key}: the most any of them may do"
  policy      = data.aws_iam_policy_document.stack_role_boundary[each.key].json
}

# -- retrain: read the environment's corrections and models, read the Hub token; nothing else -------------

data "aws_iam_policy_document" "retrain" {
  for_each = toset(local.environments)

  # model/retrain.py exports feedback (Scan) and each corrected complaint (GetItem) into a scratch store; the
  # champions' records are read from model_info and model_strategy.
  statement {
    sid     = "ReadCorrectionsAndModels"
    actions = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:DescribeTable"]
    resources = [
      "${local.dynamodb_arn}:table/complaints-${each.key}-feedback",
      "${local.dynamodb_arn}:table/complaints-${each.key}-raw_complaints",
      "${local.dynamodb_arn}:table/complaints-${each.key}-model_info",
      "${local.dynamodb_arn}:table/complaints-${each.key}-model_strategy",
    ]
  }

  # The model health its pull request reports (complaints/monitoring.py): each queue's allocations of the last
  # weeks, by the queue index.
  statement {
    sid       = "ReadTheQueuesForTheModelHealth"
    actions   = ["dynamodb:Query"]
    resources = ["${local.dynamodb_arn}:table/complaints-${each.key}-complaints_allocation/index/*"]
  }

  statement {
    sid       = "DecryptTheTablesThroughDynamoDB"
    actions   = ["kms:Decrypt"]
    resources = ["${local.kms_arn}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "kms:ResourceAliases"
      values   = ["alias/complaints-${each.key}-data"]
    }
  }

  statement {
    sid       = "ReadTheHubToken"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.hub_token[each.key].arn]
  }

  statement {
    sid       = "DecryptTheHubTokenThroughSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.bootstrap.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "retrain" {
  for_each = toset(local.environments)

  name   = "read-corrections-and-hub-token"
  role   = aws_iam_role.retrain[each.key].id
  policy = data.aws_iam_policy_document.retrain[each.key].json
}

# -- gate: read the environment's corrections, shadow answers and what serves; nothing else -----------------

data "aws_iam_policy_document" "gate" {
  for_each = toset(local.environments)

  # What `complaints --env <env> gate` reads (console/lifecycle.py, model/gate.py, model/training_data.py): every
  # correction (feedback, Scan), each corrected complaint and the allocation of each gate complaint, for its
  # shadow answer (GetItem by id), and each task's strategy (model_strategy). The versions come from the Hub.
  statement {
    sid       = "ReadTheCorrections"
    actions   = ["dynamodb:Scan"]
    resources = ["${local.dynamodb_arn}:table/complaints-${each.key}-feedback"]
  }

  statement {
    sid     = "ReadCorrectedComplaintsShadowAnswersAndStrategiesById"
    actions = ["dynamodb:GetItem"]
    resources = [
      "${local.dynamodb_arn}:table/complaints-${each.key}-raw_complaints",
      "${local.dynamodb_arn}:table/complaints-${each.key}-complaints_allocation",
      "${local.dynamodb_arn}:table/complaints-${each.key}-model_strategy",
    ]
  }

  statement {
    sid       = "DecryptTheTablesThroughDynamoDB"
    actions   = ["kms:Decrypt"]
    resources = ["${local.kms_arn}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "kms:ResourceAliases"
      values   = ["alias/complaints-${each.key}-data"]
    }
  }
}

resource "aws_iam_role_policy" "gate" {
  for_each = toset(local.environments)

  name   = "read-corrections-and-shadow-answers"
  role   = aws_iam_role.gate[each.key].id
  policy = data.aws_iam_policy_document.gate[each.key].json
}

# -- promotion: prod serves only versions dev served (model/promotion.py) ----------------------------------

locals {
  # Promotions whose two environments are both deployed in this account (an account per environment: none), by
  # the promoted environment (prod => dev), and by the source (dev => prod).
  promotions = { for env, source in var.promoted_from : env => source if contains(local.environments, env) && contains(local.environments, source) }
  promoted   = { for env, source in local.promotions : source => env }
}

# The promoted environment's gate (of its pull requests), apply (`release apply` refuses a version the source never
# served) and retrain (`make promote`) read the source's release records, and nothing else of it.
data "aws_iam_policy_document" "source_releases" {
  for_each = local.promotions

  statement {
    sid       = "ReadTheSourceEnvironmentsReleases"
    actions   = ["dynamodb:Query"]
    resources = ["${local.dynamodb_arn}:table/complaints-${each.value}-releases"]
  }

  statement {
    sid       = "DecryptTheSourcesTableThroughDynamoDB"
    actions   = ["kms:Decrypt"]
    resources = ["${local.kms_arn}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "kms:ResourceAliases"
      values   = ["alias/complaints-${each.value}-data"]
    }
  }
}

resource "aws_iam_role_policy" "gate_source_releases" {
  for_each = local.promotions

  name   = "read-${each.value}-releases"
  role   = aws_iam_role.gate[each.key].id
  policy = data.aws_iam_policy_document.source_releases[each.key].json
}

resource "aws_iam_role_policy" "apply_source_releases" {
  for_each = local.promotions

  name   = "read-${each.value}-releases"
  role   = aws_iam_role.apply[each.key].id
  policy = data.aws_iam_policy_document.source_releases[each.key].json
}

resource "aws_iam_role_policy" "retrain_source_releases" {
  for_each = local.promotions

  name   = "read-${each.value}-releases"
  role   = aws_iam_role.retrain[each.key].id
  policy = data.aws_iam_policy_document.source_releases[each.key].json
}

# The source's retrain learns from the analysts of the environment promoted from it (model/retrain.py
# export_corrections): its corrections and the complaints they correct.
data "aws_iam_policy_document" "promoted_corrections" {
  for_each = local.promoted

  statement {
    sid     = "ReadThePromotedEnvironmentsCorrections"
    actions = ["dynamodb:GetItem", "dynamodb:Scan"]
    resources = [
      "${local.dynamodb_arn}:table/complaints-${each.value}-feedback",
      "${local.dynamodb_arn}:table/complaints-${each.value}-raw_complaints",
    ]
  }

  statement {
    sid       = "DecryptThePromotedTablesThroughDynamoDB"
    actions   = ["kms:Decrypt"]
    resources = ["${local.kms_arn}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "kms:ResourceAliases"
      values   = ["alias/complaints-${each.value}-data"]
    }
  }
}

resource "aws_iam_role_policy" "retrain_promoted_corrections" {
  for_each = local.promoted

  name   = "read-${each.value}-corrections"
  role   = aws_iam_role.retrain[each.key].id
  policy = data.aws_iam_policy_document.promoted_corrections[each.key].json
}
