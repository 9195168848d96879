output "vpc_id" {
  value = aws_vpc.this.id
}

output "public_subnet_ids" {
  value = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  value = aws_subnet.private[*].id
}

output "nat_public_ips" {
  description = "Where the VPC's tasks come from when they call the internet-facing load balancer."
  value       = aws_eip.nat[*].public_ip
}
