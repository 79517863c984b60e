using System.Text;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using RsMoe.Gateway.Api;

namespace RsMoe.Gateway.Tests.Api;

/// <summary>What a REST caller sees for each failure: a problem-details status and a message that is theirs to read.</summary>
public sealed class ProblemMappingTests
{
    static ProblemHttpResult Problem(Exception e) => Assert.IsType<ProblemHttpResult>(RestEndpoints.Problem(e));

    [Theory]
    [InlineData(StatusCode.InvalidArgument, 400)]
    [InlineData(StatusCode.ResourceExhausted, 413)]
    [InlineData(StatusCode.FailedPrecondition, 422)]
    [InlineData(StatusCode.DeadlineExceeded, 504)]
    [InlineData(StatusCode.Cancelled, 499)]
    [InlineData(StatusCode.Unavailable, 503)]
    public void A_backend_status_becomes_its_http_status_with_the_backends_message(StatusCode status, int http)
    {
        var problem = Problem(new RpcException(new Status(status, "expert-theme is unavailable")));
        Assert.Equal(http, problem.StatusCode);
        if (status != StatusCode.Cancelled) Assert.Equal("expert-theme is unavailable", problem.ProblemDetails.Detail);
    }

    [Theory]
    [InlineData(StatusCode.Internal)]
    [InlineData(StatusCode.Unknown)]
    [InlineData(StatusCode.DataLoss)]
    [InlineData(StatusCode.Unimplemented)]
    public void An_internal_failure_is_a_502_that_leaks_no_backend_detail(StatusCode status)
    {
        var problem = Problem(new RpcException(new Status(status, "System.NullReferenceException at RsMoe.Expert.Secret()")));
        Assert.Equal(502, problem.StatusCode);
        Assert.DoesNotContain("Secret", problem.ProblemDetails.Detail);
    }

    [Fact]
    public void The_callers_own_mistakes_are_4xx_and_the_gateways_limits_504()
    {
        Assert.Equal(400, Problem(new RestEndpoints.BadRequest("'image' is not valid base64")).StatusCode);
        Assert.Equal(415, Problem(new RestEndpoints.UnsupportedMedia("send JSON or multipart")).StatusCode);
        Assert.Equal(413, Problem(new BadHttpRequestException("too big", 413)).StatusCode);
        Assert.Equal(400, Problem(new InvalidDataException("not an image")).StatusCode);
        var utf8 = Problem(new DecoderFallbackException("bad byte"));
        Assert.Equal(400, utf8.StatusCode);
        Assert.Equal("the body is not valid UTF-8", utf8.ProblemDetails.Detail);
        Assert.Equal(504, Problem(new OperationCanceledException()).StatusCode);
    }

    [Fact]
    public void A_bug_in_the_gateway_is_not_mapped_so_it_is_logged_and_surfaces_as_a_500()
    {
        Assert.Null(RestEndpoints.Problem(new NullReferenceException()));
        Assert.Null(RestEndpoints.Problem(new InvalidOperationException()));
    }
}
