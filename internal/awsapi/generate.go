package awsapi

// The API packages (ecs, ecr, logs, appautoscaling) are generated from the
// botocore models in ../shared/aws-models beside the repository.
//go:generate go run ./gen -models ../../../shared/aws-models -out .
