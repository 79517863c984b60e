using Grpc.Core;

namespace RsMoe.Gateway.Backends;

/// <summary>
/// Whether a failed call says the replica that served it is failing: only such failures count towards opening its
/// circuit. A request's own faults (<c>InvalidArgument</c>, <c>FailedPrecondition</c>, <c>ResourceExhausted</c>,
/// <c>OutOfRange</c>…), the caller's cancellation and the caller's own deadline say nothing about the replica; counting
/// them would let any caller take healthy replicas out.
/// </summary>
public static class ReplicaFailure
{
    public static bool Counts(StatusCode status, StageDeadline deadline) => status switch
    {
        StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.DataLoss => true,
        StatusCode.DeadlineExceeded => deadline.IsStageTimeout,
        _ => false,
    };
}
