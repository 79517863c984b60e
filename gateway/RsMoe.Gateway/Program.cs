using RsMoe.Gateway;
using RsMoe.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("gateway");
builder.AddGateway();

var app = builder.Build();
app.MapGateway();
app.MapDefaultEndpoints(internalService: false);
app.Run();

public partial class Program;
