package testcluster

import "github.com/aws/aws-sdk-go-v2/service/ecr"

// ECR is an official ECR client for this control plane.
func (c *ControlPlane) ECR() *ecr.Client { return ecr.NewFromConfig(c.AWSConfig()) }
