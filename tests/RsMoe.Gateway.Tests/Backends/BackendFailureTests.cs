using Grpc.Core;
using RsMoe.Gateway.Backends;

namespace RsMoe.Gateway.Tests.Backends;

/// <summary>A backend's failure as the gateway's caller sees it: their own faults pass through; the backend's own are named, never a transport message.</summary>
public sealed class BackendFailureTests
{
    [Theory]
    [InlineData(StatusCode.InvalidArgument)]
    [InlineData(StatusCode.ResourceExhausted)]
    [InlineData(StatusCode.FailedPrecondition)]
    [InlineData(StatusCode.Cancelled)]
    public void The_requests_own_faults_pass_through_unchanged(StatusCode status)
    {
        var e = new RpcException(new Status(status, "the image is not a PNG, JPEG or TIFF"));
        Assert.Same(e, BackendFailure.Explain("image-encoder", e));
    }

    [Fact]
    public void A_slow_backend_is_a_deadline_naming_it()
    {
        var explained = BackendFailure.Explain("expert-objects", new RpcException(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded")));
        Assert.Equal(StatusCode.DeadlineExceeded, explained.StatusCode);
        Assert.Equal("expert-objects did not answer in time", explained.Status.Detail);
    }

    [Theory]
    [InlineData(StatusCode.Unavailable, "Error connecting to subchannel.")]
    [InlineData(StatusCode.Internal, "Error starting gRPC call.")]
    [InlineData(StatusCode.Unknown, "Exception was thrown by handler.")]
    public void A_failing_backend_is_unavailable_and_named(StatusCode status, string transport)
    {
        var explained = BackendFailure.Explain("vlm-encoder", new RpcException(new Status(status, transport)));
        Assert.Equal(StatusCode.Unavailable, explained.StatusCode);
        Assert.StartsWith("vlm-encoder is unavailable", explained.Status.Detail);
        Assert.Contains(status.ToString(), explained.Status.Detail);
    }

    [Fact]
    public void A_message_that_already_names_the_backend_is_kept()
    {
        var e = new RpcException(new Status(StatusCode.Unavailable, "expert-theme is unavailable: no healthy replica"));
        Assert.Same(e, BackendFailure.Explain("expert-theme", e));
    }
}
